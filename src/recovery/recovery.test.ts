import { test } from 'node:test';
import assert from 'node:assert/strict';
import { insertVersion, listVersions } from '../ingest/files.js';
import { filesSection, type IndexFile } from '../ingest/index-section.js';
import { INDEX_PAGE_ITEMS, openIndex, isPagedSection } from '../formats/file-index.js';
import { getMeta } from '../store/db.js';
import { IndexSections } from './sections.js';
import { refreshIndex, readPages, type RecoveryDeps } from './recovery.js';
import { emptySummary } from '../sync/round.js';
import type { PeerClient } from '../net/client.js';
import { tempHome } from '../../test/helpers/ingest.js';

// The recovery index of a big listing: the files go into pages, an unchanged listing builds
// nothing, a change replaces only the pages it touches, and the pages read back to the listing.

const h = (n: number) => n.toString(16).padStart(64, '0');

test('a long file listing is kept in index pages that change only where the listing did', async (t) => {
  const { home } = await tempHome(t);
  const { db, objects, keys } = home;
  const version = (i: number) => insertVersion(db, {
    path: `/data/f${i}`, name: `f${i}`, version: 1, size: i, file_hash: h(i), manifest_hash: h(1_000_000 + i), chunks: 0, added_at: i,
  }, []);
  db.transaction(() => { for (let i = 1; i <= 2 * INDEX_PAGE_ITEMS + INDEX_PAGE_ITEMS / 2; i++) version(i); })();
  const sections = new IndexSections();
  sections.register(filesSection({ db, objects, master: keys.master, selfId: keys.cellId }));
  let clock = 1000;
  const d: RecoveryDeps = {
    sections, selfId: keys.cellId, identity: keys.identity.privateKey, master: keys.master, db, objects,
    client: {} as PeerClient, clock: () => clock,
  };
  const refresh = async () => {
    clock += 1000;
    await refreshIndex(d, [], emptySummary(clock));
    return { index: getMeta(db, 'index_hash')!, pages: JSON.parse(getMeta(db, 'index_pages')!) as string[] };
  };

  const first = await refresh();
  assert.equal(first.pages.length, 3);
  for (const p of [first.index, ...first.pages]) assert.ok(objects.has(p));
  const idx = openIndex(keys.master, keys.cellId, await objects.get(first.index));
  assert.ok(isPagedSection(idx.files));
  assert.deepEqual(idx.files, { pages: first.pages, count: 2 * INDEX_PAGE_ITEMS + INDEX_PAGE_ITEMS / 2 });
  const items = (await readPages(d, 'files', idx.files, () => Promise.resolve(true))) as IndexFile[];
  assert.deepEqual(items.map((f) => f.manifest_hash).sort(), listVersions(db, { versions: true }).map((f) => f.manifest_hash).sort());

  assert.deepEqual(await refresh(), first, 'nothing changed: the same index');
  assert.equal(getMeta(db, 'index_created_at'), '2000', 'and nothing was built');

  version(2 * INDEX_PAGE_ITEMS + INDEX_PAGE_ITEMS / 2 + 1);
  const added = await refresh();
  assert.notEqual(added.index, first.index);
  assert.deepEqual(added.pages.slice(0, 2), first.pages.slice(0, 2), 'a new version changes only the last page');
  assert.notEqual(added.pages[2], first.pages[2]);
  assert.ok(!objects.has(first.index) && !objects.has(first.pages[2]!), 'what the new index replaced is gone');

  db.prepare('DELETE FROM files WHERE id = 5').run();
  const deleted = await refresh();
  assert.notEqual(deleted.pages[0], added.pages[0]);
  assert.deepEqual(deleted.pages.slice(1), added.pages.slice(1), 'a deleted version changes only its own page');
});
