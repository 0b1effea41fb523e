import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planCatchUp, unchanged, type FileStamp, type IndexEntry } from './folders.js';

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
