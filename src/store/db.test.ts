import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { openDb, durably, committedAnyway, getMeta, setMeta } from './db.js';
import { GroupSync } from './wal-sync.js';
import { GroveError } from '../errors.js';
import { tempDir } from '../../test/helpers/ingest.js';

const isCorrupt = (e: unknown) => e instanceof GroveError && e.code === 'CORRUPT';

test('a file that is not a SQLite database is CORRUPT, with or without the full check', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'placement.db');
  writeFileSync(path, Buffer.alloc(8192, 0x5a));
  assert.throws(() => openDb(path), isCorrupt);
  assert.throws(() => openDb(path, { check: 'full' }), isCorrupt);
});

test('a damaged page: the full check finds it at open; the schema check leaves it to the statement that reads it', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'placement.db');
  const db = openDb(path);
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  db.transaction(() => {
    const ins = db.prepare('INSERT INTO files(path, name, version, size, file_hash, manifest_hash, chunks, added_at) VALUES (?, ?, 1, 0, ?, ?, 1, 0)');
    for (let i = 0; i < 2000; i++) ins.run(`/p/${i}`, `${i}`, 'f'.repeat(64), i.toString(16).padStart(64, '0'));
  })();
  const root = db.prepare("SELECT rootpage FROM sqlite_schema WHERE name = 'files'").pluck().get() as number;
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  // Overwrite the root page of `files` (an interior page: the table spans many pages).
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (root - 1) * pageSize);
  closeSync(fd);

  assert.throws(() => openDb(path, { check: 'full' }), isCorrupt);
  const cheap = openDb(path);
  t.after(() => cheap.close());
  assert.throws(() => cheap.prepare('SELECT SUM(size) FROM files').get(), /malformed/);
});

test('a durable commit resolves only after the WAL sync that follows it; a throw records nothing', async (t) => {
  const dir = await tempDir(t);
  const db = openDb(join(dir, 'placement.db'));
  t.after(() => db.close());
  const seenInFlush: (string | undefined)[] = [];
  let release!: () => void;
  let entered!: () => void;
  const inFlush = new Promise<void>((r) => { entered = r; });
  const syncer = new GroupSync(async () => {
    seenInFlush.push(getMeta(db, 'k')); // committed (visible) before the fsync
    const held = new Promise<void>((r) => { release = r; });
    entered();
    await held;
  });
  let done = false;
  const p = durably(db, () => setMeta(db, 'k', 'v'), syncer).then(() => { done = true; });
  await inFlush;
  assert.deepEqual(seenInFlush, ['v']);
  assert.equal(done, false, 'not promised before the fsync returns');
  release();
  await p;
  assert.equal(done, true);
  await assert.rejects(durably(db, () => {
    setMeta(db, 'k', 'w');
    throw new Error('boom');
  }), /boom/);
  assert.equal(getMeta(db, 'k'), 'v', 'rolled back');
  db.exec('BEGIN');
  await assert.rejects(durably(db, () => 1), (e: unknown) => e instanceof GroveError && e.code === 'INTERNAL');
  db.exec('ROLLBACK');
  // The real WAL syncer runs on the real file.
  assert.equal(await durably(db, () => { setMeta(db, 'k', 'x'); return 7; }), 7);
  assert.equal(getMeta(db, 'k'), 'x');
});

test('a failed fsync after a durable commit says the rows stand', async (t) => {
  const dir = await tempDir(t);
  const db = openDb(join(dir, 'placement.db'));
  t.after(() => db.close());
  const failing = new GroupSync(() => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })));
  const e = await durably(db, () => setMeta(db, 'k', 'v'), failing).catch((x: unknown) => x);
  assert.ok(committedAnyway(e));
  assert.equal(getMeta(db, 'k'), 'v');
  assert.equal(committedAnyway(new GroveError('INTERNAL', 'x')), false);
});
