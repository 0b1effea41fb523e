import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, readFile, mkdir } from 'node:fs/promises';
import type { BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { ingestSetup as setup, streamBytes } from '../../test/helpers/ingest.js';
import { CHUNK_SIZE } from '../crypto/domains.js';
import { fileKey } from '../crypto/kdf.js';
import type { Home } from '../home/home.js';
import { SealPool } from './pool.js';
import { addFile, type AddResult, type IngestContext } from './add.js';
import { addMany, GROUP_FILES, INLINE_CRYPTO_BYTES } from './group.js';
import { restoreFile } from './restore.js';
import { listVersions } from './files.js';
import { verifyStore } from './verify.js';
import { RACY_MARGIN_NS, trustworthy, sameStat, statOf } from './source-stats.js';

// Group commit of many files (group.ts) and the stat index that lets a re-add skip reading
// unchanged files (source-stats.ts), in-process against real temp homes.

const C = CHUNK_SIZE;

async function many(ctx: IngestContext, files: { path: string; size: number }[]) {
  const results: AddResult[] = [];
  const errors: { path: string; e: unknown }[] = [];
  await addMany(ctx, files, { onResult: (r) => results.push(r), onError: (path, e) => errors.push({ path, e }) });
  return { results, errors };
}

async function restored(home: Home, pool: SealPool, r: AddResult, out: string): Promise<Buffer> {
  await restoreFile(home, r.manifest_hash, fileKey(home.keys.master, Buffer.from(r.file_hash, 'hex')), out, { pool });
  return readFile(out);
}

/** A pool that fails the test if anything asks it to hash or seal: proof no file was read. */
function untouchablePool(): SealPool {
  const fail = () => { throw new Error('the file contents were read'); };
  return { hash: fail, seal: fail, hashStream: fail, open: fail, hashHere: fail, sealHere: fail } as unknown as SealPool;
}

test('many files of every size come back byte for byte, in batches and one by one', async (t) => {
  const { home, dir, pool, ctx } = await setup(t);
  const sizes = [0, 1, 4096, 65536, C - 1, C, C + 1, 2 * C + 3];
  const files = [];
  // More than a batch of small files, with the odd sizes among them.
  for (let i = 0; i < GROUP_FILES + 20; i++) {
    const size = i < sizes.length ? sizes[i]! : 1000 + i;
    const path = join(dir, `f${i}.bin`);
    await writeFile(path, streamBytes(`many-${i}`, size));
    files.push({ path, size });
  }
  const { results, errors } = await many(ctx, files);
  assert.deepEqual(errors, []);
  assert.equal(results.length, files.length);
  const byPath = new Map(results.map((r) => [r.path, r]));
  for (const [i, f] of files.entries()) {
    const r = byPath.get(f.path)!;
    assert.equal(r.version, 1);
    assert.equal(r.size, f.size);
    if (i < sizes.length || i % 50 === 0) {
      assert.ok((await restored(home, pool, r, `${f.path}.out`)).equals(await readFile(f.path)), `${f.path} round trip`);
    }
  }
  assert.equal(listVersions(home.db).length, files.length);
  const v = await verifyStore(home, { pool });
  assert.deepEqual([v.corrupt, v.missing, v.unrecorded], [[], [], []]);
});

test('a file that cannot be read fails alone; the rest of its batch is recorded', async (t) => {
  const { home, dir, ctx } = await setup(t);
  const files = [];
  for (let i = 0; i < 10; i++) {
    const path = join(dir, `ok${i}.bin`);
    await writeFile(path, streamBytes(`ok-${i}`, 2000));
    files.push({ path, size: 2000 });
  }
  await mkdir(join(dir, 'a-directory'));
  files.splice(4, 0, { path: join(dir, 'vanished.bin'), size: 10 }, { path: join(dir, 'a-directory'), size: 10 });
  const { results, errors } = await many(ctx, files);
  assert.equal(results.length, 10);
  assert.deepEqual(errors.map((e) => e.path).sort(), [join(dir, 'a-directory'), join(dir, 'vanished.bin')]);
  assert.equal(listVersions(home.db).length, 10);
});

test('a second add of an unchanged tree reads no file contents', async (t) => {
  const { home, dir, ctx } = await setup(t);
  const files = [];
  for (const [i, size] of [10, 70_000, C + 9].entries()) {
    const path = join(dir, `old${i}.bin`);
    await writeFile(path, streamBytes(`old-${i}`, size));
    files.push({ path, size });
  }
  // Read an hour after it was written: long settled, its stat may be trusted.
  const later: IngestContext = { ...ctx, fileClockNs: () => BigInt(Date.now() + 3_600_000) * 1_000_000n };
  const first = await many(later, files);
  assert.equal(first.results.length, 3);

  const blind: IngestContext = { ...ctx, pool: untouchablePool() };
  const again = await many(blind, files);
  assert.deepEqual(again.errors, []);
  assert.ok(again.results.every((r) => r.unchanged && r.version === 1));
  // The single-file path uses the same index.
  assert.ok((await addFile(blind, files[2]!.path)).unchanged);

  // A write that keeps the size changes mtime/ctime: the file is read again, a new version.
  await writeFile(files[0]!.path, streamBytes('changed', 10));
  const changed = await many(ctx, [files[0]!]);
  assert.equal(changed.results[0]!.version, 2);
  assert.equal(listVersions(home.db, { versions: true }).length, 4);
});

test('a just-written file is read again next time (racily clean), and found unchanged', async (t) => {
  const { dir, ctx } = await setup(t);
  const path = join(dir, 'fresh.bin');
  await writeFile(path, streamBytes('fresh', 500));
  assert.equal((await many(ctx, [{ path, size: 500 }])).results[0]!.version, 1);
  const blind: IngestContext = { ...ctx, pool: untouchablePool() };
  const { errors } = await many(blind, [{ path, size: 500 }]);
  assert.match(String(errors[0]?.e), /contents were read/, 'the stat was too fresh to be recorded');
  const again = await many(ctx, [{ path, size: 500 }]);
  assert.ok(again.results[0]!.unchanged);
});

test('a stat is trusted only once it is older than the margin', () => {
  const at = 10_000_000_000n;
  const st = (m: bigint, c: bigint) => ({ mtimeNs: m, ctimeNs: c, size: 1n, ino: 2n, dev: 3n }) as unknown as BigIntStats;
  assert.equal(trustworthy(st(at - RACY_MARGIN_NS, at - RACY_MARGIN_NS), at), true);
  assert.equal(trustworthy(st(at - RACY_MARGIN_NS + 1n, at - RACY_MARGIN_NS), at), false);
  assert.equal(trustworthy(st(at - RACY_MARGIN_NS, at), at), false, 'ctime counts: a chmod or a rename in place');
  const a = statOf(st(1n, 2n));
  assert.ok(sameStat(a, { ...a }));
  for (const k of ['size', 'mtime_ns', 'ctime_ns', 'ino', 'dev'] as const) {
    assert.ok(!sameStat(a, { ...a, [k]: k === 'size' ? 9 : '9' }), `${k} differs`);
  }
});

test('a tiny file sealed on the calling thread gives the bytes a seal worker gives', async (t) => {
  const { pool } = await setup(t);
  const ring = pool.chunkBuffers(1, 1);
  t.after(() => pool.dispose(ring.plain, ring.sealed));
  const plain = await ring.plain.acquire();
  const out = await ring.sealed.acquire();
  const key = Buffer.alloc(32, 7);
  const fileHash = Buffer.alloc(32, 9);
  for (const size of [0, 1, 65_536, INLINE_CRYPTO_BYTES]) {
    plain.bytes.set(streamBytes(`tiny-${size}`, size));
    assert.equal(pool.hashHere(plain.bytes.subarray(0, size)), await pool.hash(plain, size));
    const here = Buffer.alloc(size + 16);
    const mine = pool.sealHere(key, fileHash, 0, plain.bytes.subarray(0, size), here);
    const theirs = await pool.seal(key, fileHash, 0, plain, size, out);
    assert.deepEqual(mine, theirs);
    assert.ok(here.equals(Buffer.from(out.bytes.subarray(0, theirs.sealedLength))), `sealed bytes of ${size}`);
  }
});
