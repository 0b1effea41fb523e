import { test } from 'node:test';
import assert from 'node:assert/strict';
import { insertVersion } from './files.js';
import { listWidths } from './list.js';
import { tempHome } from '../../test/helpers/ingest.js';

test('the listing\'s column widths come from two index lookups, not from every version', async (t) => {
  const { home } = await tempHome(t);
  const { db } = home;
  assert.deepEqual(listWidths(db), { name: 0, version: 0 });
  const v = (path: string, version: number) => insertVersion(db, {
    path, name: path.slice(path.lastIndexOf('/') + 1), version, size: 1, file_hash: '0'.repeat(64), manifest_hash: `${path}/${version}`.padEnd(64, '0'), chunks: 0, added_at: 1,
  }, []);
  v('/a/short', 1);
  v('/a/a-much-longer-name.txt', 1);
  v('/b/x', 12);
  assert.deepEqual(listWidths(db), { name: 'a-much-longer-name.txt'.length, version: 12 });
  for (const q of ['SELECT MAX(length(name)) FROM files', 'SELECT MAX(version) FROM files']) {
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${q}`).all() as { detail: string }[]).map((r) => r.detail).join(' / ');
    assert.match(plan, /SEARCH files USING COVERING INDEX/, q);
  }
});
