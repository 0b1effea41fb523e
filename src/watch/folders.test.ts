import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { planCatchUp, unchanged, folderCounts, recordIngested, markGone, type FileStamp, type IndexEntry } from './folders.js';
import { openDb } from '../store/db.js';
import { tempDir } from '../../test/helpers/ingest.js';

const entry = (path: string, s: FileStamp, gone: number | null = null): IndexEntry => ({
  path, root: '/r', ...s, manifest_hash: 'm', ingested_at: 1, gone_at: gone,
});

test('catch-up reads only new or changed files and reports vanished ones', () => {
  const a = { size: 3, mtime_ns: '100', ino: '7' };
  const index = new Map([
    ['/r/same', entry('/r/same', a)],
    ['/r/touched', entry('/r/touched', a)],
    ['/r/replaced', entry('/r/replaced', a)],
    ['/r/removed', entry('/r/removed', a)],
    ['/r/was-gone', entry('/r/was-gone', a, 5)],
    ['/r/still-gone', entry('/r/still-gone', a, 5)],
  ]);
  const found = new Map<string, FileStamp>([
    ['/r/same', a],
    ['/r/touched', { ...a, mtime_ns: '101' }],
    ['/r/replaced', { ...a, ino: '8' }],
    ['/r/new', a],
    ['/r/was-gone', a],
  ]);
  const plan = planCatchUp(found, index);
  assert.deepEqual(plan.ingest, ['/r/new', '/r/replaced', '/r/touched', '/r/was-gone']);
  assert.deepEqual(plan.gone, ['/r/removed']);
});

test('unchanged compares size, mtime and inode', () => {
  const s = { size: 1, mtime_ns: '2', ino: '3' };
  assert.equal(unchanged(entry('/p', s), s), true);
  assert.equal(unchanged(entry('/p', s), { ...s, size: 2 }), false);
  assert.equal(unchanged(undefined, s), false);
  assert.equal(unchanged(entry('/p', s, 9), s), false, 'a file that came back is read again');
});

test('folder counts come from the indexes alone and match the rows', async (t) => {
  const db = openDb(join(await tempDir(t), 'placement.db'));
  t.after(() => db.close());
  const s = { size: 1, mtime_ns: '1', ino: '1' };
  for (let i = 0; i < 30; i++) recordIngested(db, i % 3 ? '/r' : '/q', `/${i % 3 ? 'r' : 'q'}/f${i}`, s, 'm', 1);
  for (const i of [1, 2, 4, 3, 6]) markGone(db, `/${i % 3 ? 'r' : 'q'}/f${i}`, 2);
  recordIngested(db, '/r', '/r/f4', s, 'm', 3); // back: no longer gone
  assert.deepEqual(folderCounts(db, '/r'), { files: 20, gone: 2 });
  assert.deepEqual(folderCounts(db, '/q'), { files: 10, gone: 2 });
  assert.deepEqual(folderCounts(db, '/none'), { files: 0, gone: 0 });
  const plans = ['SELECT COUNT(*) FROM watch_index WHERE root = ?', 'SELECT COUNT(*) FROM watch_index WHERE root = ? AND gone_at IS NOT NULL']
    .map((q) => (db.prepare(`EXPLAIN QUERY PLAN ${q}`).all('/r') as { detail: string }[]).map((r) => r.detail).join(' / '));
  assert.match(plans[0]!, /COVERING INDEX watch_index_root/);
  assert.match(plans[1]!, /watch_index_gone/);
});
