import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectStore } from './objects.js';
import { StagedBatch } from './batch.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function store(t: import('node:test').TestContext): Promise<ObjectStore> {
  const dir = await mkdtemp(join(tmpdir(), 'grove-staged-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return new ObjectStore(join(dir, 'chunks'));
}

async function files(s: ObjectStore): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(s.dir).catch(() => [] as string[])) for (const f of await readdir(join(s.dir, shard))) out.push(f);
  return out.sort();
}

test('nothing is visible under its hash before commit; after it every object is, and no temp file', async (t) => {
  const s = await store(t);
  const objs = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i));
  const b = new StagedBatch(s, 4);
  for (const o of objs) await b.write(sha(o), [o.subarray(0, 10), o.subarray(10)], o.length);
  assert.ok(objs.every((o) => !s.has(sha(o))), 'not in place before the barrier');
  const r = await b.commit();
  assert.equal(r.size, objs.length);
  for (const o of objs) {
    assert.deepEqual(r.get(sha(o)), { ok: true, written: true });
    assert.deepEqual(await s.get(sha(o)), o);
  }
  assert.deepEqual(await files(s), objs.map(sha).sort());
});

test('an object already in place keeps its file; abort and unpublish leave nothing of the batch', async (t) => {
  const s = await store(t);
  const old = randomBytes(500);
  await s.put(old);
  const fresh = randomBytes(500);
  const b = new StagedBatch(s);
  await b.write(sha(old), [old], old.length);
  await b.write(sha(fresh), [fresh], fresh.length);
  const r = await b.commit();
  assert.deepEqual(r.get(sha(old)), { ok: true, written: false });
  assert.deepEqual(r.get(sha(fresh)), { ok: true, written: true });
  await b.unpublish([sha(old), sha(fresh)]);
  assert.equal(s.has(sha(old)), true, 'not this batch\'s to remove');
  assert.equal(s.has(sha(fresh)), false);

  const c = new StagedBatch(s);
  const gone = randomBytes(3000);
  await c.write(sha(gone), [gone], gone.length);
  await c.abort();
  assert.deepEqual(await files(s), [sha(old)]);
});

test('a short write (bytes missing) fails that object alone and leaves no temp file', async (t) => {
  const s = await store(t);
  const ok = randomBytes(100);
  const short = randomBytes(100);
  const b = new StagedBatch(s);
  await b.write(sha(ok), [ok], ok.length);
  await b.write(sha(short), [short], short.length + 1); // the size the caller expects never lands
  const r = await b.commit();
  assert.deepEqual(r.get(sha(ok)), { ok: true, written: true });
  const bad = r.get(sha(short))!;
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.error.code, 'DISK_FULL');
  assert.deepEqual(await files(s), [sha(ok)]);
});

test('readInto reads an object into a reused buffer, declines one too large for it, and reports a missing one', async (t) => {
  const s = await store(t);
  const small = randomBytes(1000);
  const big = randomBytes(5000);
  await s.put(small);
  await s.put(big);
  const buf = Buffer.alloc(4096, 0xee);
  assert.equal(await s.readInto(sha(small), buf), 1000);
  assert.deepEqual(buf.subarray(0, 1000), small);
  assert.equal(await s.readInto(sha(big), buf), undefined);
  await assert.rejects(s.readInto('ab'.repeat(32), buf), (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'NOT_FOUND');
  await assert.rejects(s.readInto('../etc/passwd', buf), (e: unknown) => (e as { code?: string }).code === 'BAD_INPUT');
});

test('a shard directory removed after the store made it is made again', async (t) => {
  const s = await store(t);
  const a = randomBytes(100);
  const hash = sha(a);
  await s.shardDir(hash);
  await rm(join(s.dir, hash.slice(0, 2)), { recursive: true });
  await s.put(a);
  assert.deepEqual(await s.readUnverified(hash), a);
});
