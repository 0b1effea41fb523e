import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, readFile, readdir, unlink, stat } from 'node:fs/promises';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { tempDir, ingestSetup as setup, streamBytes, objectFiles } from '../../test/helpers/ingest.js';
import { CHUNK_SIZE } from '../crypto/domains.js';
import { fileKey } from '../crypto/kdf.js';
import { sealManifest } from '../formats/manifest.js';
import { GroveError } from '../errors.js';
import type { Home } from '../home/home.js';
import { addFile, type IngestContext } from './add.js';
import { restoreFile, loadManifest, readChunks } from './restore.js';
import { chunksOf, listVersions, resolveFile } from './files.js';
import { lsRows } from './list.js';
import { verifyStore } from './verify.js';

// The add → get pipeline in-process, with real temp homes: round trips around chunk
// boundaries, dedup, versions, tamper detection, healing, crash-relevant ordering.

const C = CHUNK_SIZE;

function keyOf(home: Home, fileHashHex: string): Buffer {
  return fileKey(home.keys.master, Buffer.from(fileHashHex, 'hex'));
}

async function flipBit(path: string, at: number): Promise<void> {
  const b = await readFile(path);
  b[at % b.length]! ^= 0x01;
  await writeFile(path, b);
}

function isGrove(code: string, mentions?: string) {
  return (e: unknown) => {
    assert.ok(e instanceof GroveError, `expected GroveError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (mentions) assert.ok(e.message.includes(mentions), `"${e.message}" should mention ${mentions}`);
    return true;
  };
}

test('round trip: any size around the chunk boundaries comes back byte for byte', async (t) => {
  const { home, dir, pool, ctx } = await setup(t);
  const boundary = fc.constantFrom(0, 1, C - 1, C, C + 1, 2 * C - 1, 2 * C, 2 * C + 1);
  const size = fc.oneof(boundary, fc.integer({ min: 0, max: 3 * C + 7 }));
  let n = 0;
  await fc.assert(fc.asyncProperty(size, fc.integer({ min: 0, max: 2 ** 31 }), async (sz, seed) => {
    const src = join(dir, `f${n++}.bin`);
    const data = streamBytes(`rt-${seed}`, sz);
    await writeFile(src, data);
    const r = await addFile(ctx, src);
    assert.equal(r.size, sz);
    assert.equal(r.chunks, Math.max(1, Math.ceil(sz / C)));
    const out = `${src}.out`;
    await restoreFile(home, r.manifest_hash, keyOf(home, r.file_hash), out, { pool });
    assert.ok((await readFile(out)).equals(data));
  }), { numRuns: 14 });
});

test('re-adding identical content at the same path writes nothing and makes no version', async (t) => {
  const { home, dir, ctx } = await setup(t);
  const src = join(dir, 'same.bin');
  await writeFile(src, streamBytes('same', C + 5));
  const first = await addFile(ctx, src);
  assert.equal(first.version, 1);
  assert.equal(first.new_chunks, 2);
  const before = await objectFiles(home.paths.chunks);
  const again = await addFile(ctx, src);
  assert.equal(again.unchanged, true);
  assert.equal(again.new_chunks, 0);
  assert.equal(again.version, 1);
  assert.equal(again.manifest_hash, first.manifest_hash);
  assert.deepEqual(await objectFiles(home.paths.chunks), before);
  assert.equal(listVersions(home.db, { versions: true }).length, 1);
});

test('identical content at another path shares every chunk (only a new manifest)', async (t) => {
  const { home, dir, ctx } = await setup(t);
  const data = streamBytes('dedup', 2 * C + 100);
  await writeFile(join(dir, 'a.bin'), data);
  await writeFile(join(dir, 'b.bin'), data);
  const a = await addFile(ctx, join(dir, 'a.bin'));
  const before = await objectFiles(home.paths.chunks);
  const b = await addFile(ctx, join(dir, 'b.bin'));
  assert.equal(b.new_chunks, 0);
  assert.notEqual(b.manifest_hash, a.manifest_hash);
  assert.deepEqual(chunksOf(home.db, b.manifest_hash), chunksOf(home.db, a.manifest_hash));
  const after = await objectFiles(home.paths.chunks);
  assert.deepEqual(after.filter((h) => !before.includes(h)), [b.manifest_hash]);
});

test('changed content becomes version N+1 and older versions stay retrievable', async (t) => {
  const { home, dir, pool, ctx } = await setup(t);
  const src = join(dir, 'doc.txt');
  const contents = [streamBytes('v1', 1000), streamBytes('v2', C + 1), Buffer.from('third')];
  const results = [];
  for (const c of contents) {
    await writeFile(src, c);
    results.push(await addFile(ctx, src));
  }
  assert.deepEqual(results.map((r) => r.version), [1, 2, 3]);
  assert.deepEqual(lsRows(home.db).map((r) => r.version), [3]);
  assert.deepEqual(lsRows(home.db, { versions: true }).map((r) => r.version), [1, 2, 3]);
  for (const [i, c] of contents.entries()) {
    const v = resolveFile(home.db, src, i + 1);
    const out = join(dir, `v${i + 1}.out`);
    await restoreFile(home, v.manifest_hash, keyOf(home, v.file_hash), out, { pool });
    assert.ok((await readFile(out)).equals(c), `version ${i + 1}`);
  }
  // by name and by manifest hash too
  assert.equal(resolveFile(home.db, 'doc.txt').version, 3);
  assert.equal(resolveFile(home.db, results[0]!.manifest_hash).version, 1);
});

test('a name shared by two paths is ambiguous and the error lists both', async (t) => {
  const { home, dir, ctx } = await setup(t);
  for (const sub of ['x', 'y']) {
    const p = join(dir, `${sub}-notes.txt`);
    await writeFile(p, sub);
    await addFile(ctx, p, { sourcePath: join(dir, sub, 'notes.txt') });
  }
  assert.throws(() => resolveFile(home.db, 'notes.txt'), (e: unknown) => {
    isGrove('CONFLICT')(e);
    const msg = (e as Error).message;
    assert.ok(msg.includes(join(dir, 'x', 'notes.txt')) && msg.includes(join(dir, 'y', 'notes.txt')));
    return true;
  });
  assert.throws(() => resolveFile(home.db, 'nothing.txt'), isGrove('NOT_FOUND'));
  assert.throws(() => resolveFile(home.db, join(dir, 'x', 'notes.txt'), 7), isGrove('NOT_FOUND', 'no version 7'));
});

test('a flipped bit in a chunk fails the restore, names the chunk and leaves no output', async (t) => {
  const { home, dir, pool, ctx } = await setup(t);
  const src = join(dir, 'victim.bin');
  await writeFile(src, streamBytes('victim', 2 * C + 3));
  const r = await addFile(ctx, src);
  const bad = chunksOf(home.db, r.manifest_hash)[1]!.hash;
  await flipBit(home.objects.pathOf(bad), 12345);
  const outDir = await tempDir(t);
  const out = join(outDir, 'victim.out');
  await assert.rejects(restoreFile(home, r.manifest_hash, keyOf(home, r.file_hash), out, { pool }), isGrove('CORRUPT', bad));
  assert.deepEqual(await readdir(outDir), []);
  const report = await verifyStore(home, { pool });
  assert.deepEqual(report.corrupt, [bad]);
});

test('a chunk that hashes right but belongs elsewhere fails authentication', async (t) => {
  const { home, dir, pool, ctx } = await setup(t);
  await writeFile(join(dir, 'one.bin'), streamBytes('one', 100));
  await writeFile(join(dir, 'two.bin'), streamBytes('two', 100));
  const one = await addFile(ctx, join(dir, 'one.bin'));
  const two = await addFile(ctx, join(dir, 'two.bin'));
  // A manifest (sealed with one's key, as only its owner could) that lists two's chunk:
  // the object is intact, but its AAD binds it to another file.
  const k1 = keyOf(home, one.file_hash);
  const m = await loadManifest(home, one.manifest_hash, k1);
  m.chunks[0]!.hash = chunksOf(home.db, two.manifest_hash)[0]!.hash;
  const { hash: forged } = await home.objects.put(sealManifest(k1, m));
  await assert.rejects(restoreFile(home, forged, k1, join(dir, 'swap.out'), { pool }), isGrove('CORRUPT', 'authentication failed'));
});

test('readChunks hands chunks on in order and holds the last back until the whole file proved right', async (t) => {
  const { home, dir, pool, ctx } = await setup(t);
  const data = streamBytes('stream', 2 * C + 99);
  await writeFile(join(dir, 's.bin'), data);
  const r = await addFile(ctx, join(dir, 's.bin'));
  const key = keyOf(home, r.file_hash);
  const m = await loadManifest(home, r.manifest_hash, key);
  const got: Buffer[] = [];
  const next = async (b: Uint8Array) => void got.push(Buffer.from(b)); // copied: the buffer is reused
  await readChunks(home, m, key, { next }, { pool });
  assert.deepEqual(got.map((b) => b.length), [C, C, 99]);
  assert.ok(Buffer.concat(got).equals(data));
  // A manifest (sealed with the file's key, as only its owner could) that drops the last
  // chunk: every chunk it lists is genuine, only the whole-file hash can tell. The consumer
  // gets the first chunk, never the last one it lists, and the read fails.
  const cut = { ...m, chunks: m.chunks.slice(0, 2), total_size: 2 * C };
  got.length = 0;
  await assert.rejects(readChunks(home, cut, key, { next }, { pool }), isGrove('CORRUPT', 'does not match its file hash'));
  assert.deepEqual(got.map((b) => b.length), [C]);
});

test('a flipped bit in a manifest fails with the manifest hash; a wrong key cannot open it', async (t) => {
  const { home, dir, pool, ctx } = await setup(t);
  const src = join(dir, 'm.bin');
  await writeFile(src, streamBytes('m', 10));
  const r = await addFile(ctx, src);
  await assert.rejects(loadManifest(home, r.manifest_hash, keyOf(home, '00'.repeat(32))), isGrove('CORRUPT', r.manifest_hash));
  await flipBit(home.objects.pathOf(r.manifest_hash), 40);
  await assert.rejects(restoreFile(home, r.manifest_hash, keyOf(home, r.file_hash), join(dir, 'm.out'), { pool }), isGrove('CORRUPT', r.manifest_hash));
  // tampered bytes stored under their own (new) hash: the tag catches it
  const tampered = await readFile(home.objects.pathOf(r.manifest_hash));
  const { hash } = await home.objects.put(tampered);
  await assert.rejects(loadManifest(home, hash, keyOf(home, r.file_hash)), isGrove('CORRUPT', 'cannot be opened'));
});

test('a missing or corrupt chunk is taken from fetchObject, hash-checked, and stored again', async (t) => {
  const { home, dir, pool, ctx } = await setup(t);
  const src = join(dir, 'heal.bin');
  const data = streamBytes('heal', C + 77);
  await writeFile(src, data);
  const r = await addFile(ctx, src);
  const [c0, c1] = chunksOf(home.db, r.manifest_hash);
  const good1 = await readFile(home.objects.pathOf(c1!.hash));
  await unlink(home.objects.pathOf(c1!.hash));
  await flipBit(home.objects.pathOf(c0!.hash), 1);
  const good0 = Buffer.from(await readFile(home.objects.pathOf(c0!.hash)));
  good0[1]! ^= 0x01;
  const asked: string[] = [];
  const key = keyOf(home, r.file_hash);
  // a liar first: wrong bytes are refused and nothing is stored
  await assert.rejects(restoreFile(home, r.manifest_hash, key, join(dir, 'liar.out'), { pool, fetchObject: async () => Buffer.from('nope') }), isGrove('CORRUPT'));
  const res = await restoreFile(home, r.manifest_hash, key, join(dir, 'heal.out'), {
    pool,
    fetchObject: async (h) => {
      asked.push(h);
      return h === c0!.hash ? good0 : h === c1!.hash ? good1 : undefined;
    },
  });
  assert.deepEqual(asked.sort(), [c0!.hash, c1!.hash].sort());
  assert.deepEqual(res.healed.sort(), [c0!.hash, c1!.hash].sort());
  assert.ok((await readFile(join(dir, 'heal.out'))).equals(data));
  assert.equal(await home.objects.check(c0!.hash), 'ok');
  assert.equal(await home.objects.check(c1!.hash), 'ok');
});

test('re-adding a file whose chunk went missing rewrites it without a new version', async (t) => {
  const { home, dir, ctx } = await setup(t);
  const src = join(dir, 'repair.bin');
  await writeFile(src, streamBytes('repair', 2 * C));
  const r = await addFile(ctx, src);
  const lost = chunksOf(home.db, r.manifest_hash)[1]!.hash;
  await unlink(home.objects.pathOf(lost));
  await unlink(home.objects.pathOf(r.manifest_hash));
  const again = await addFile(ctx, src);
  assert.equal(again.unchanged, true);
  assert.equal(again.version, 1);
  assert.equal(again.new_chunks, 1);
  assert.equal(again.manifest_hash, r.manifest_hash); // rebuilt identically
  assert.ok(home.objects.has(lost) && home.objects.has(r.manifest_hash));
});

test('a file written to during add is refused, and nothing is recorded', async (t) => {
  const { home, dir, ctx } = await setup(t);
  const src = join(dir, 'busy.log');
  await writeFile(src, streamBytes('busy', 3 * C));
  let touched = false;
  const busy: IngestContext = {
    ...ctx,
    onProgress: (phase) => {
      if (phase === 'store' && !touched) {
        touched = true;
        appendFileSync(src, 'more');
      }
    },
  };
  await assert.rejects(addFile(busy, src), isGrove('CONFLICT', 'changed'));
  assert.equal(listVersions(home.db).length, 0);
});

test('restore refuses to overwrite unless forced', async (t) => {
  const { home, dir, pool, ctx } = await setup(t);
  const src = join(dir, 'keep.txt');
  await writeFile(src, 'precious');
  const r = await addFile(ctx, src);
  const out = join(dir, 'exists.txt');
  await writeFile(out, 'do not touch');
  await assert.rejects(restoreFile(home, r.manifest_hash, keyOf(home, r.file_hash), out, { pool }), isGrove('CONFLICT', 'already exists'));
  assert.equal(await readFile(out, 'utf8'), 'do not touch');
  await restoreFile(home, r.manifest_hash, keyOf(home, r.file_hash), out, { pool, force: true });
  assert.equal(await readFile(out, 'utf8'), 'precious');
});

test('an aborted add records nothing and an aborted restore leaves no file', async (t) => {
  const { home, dir, pool, ctx } = await setup(t);
  const src = join(dir, 'big.bin');
  await writeFile(src, streamBytes('abort', 4 * C));
  const ac = new AbortController();
  const reason = new GroveError('IO', 'interrupted');
  await assert.rejects(addFile({ ...ctx, signal: ac.signal, onProgress: () => ac.abort(reason) }, src), isGrove('IO', 'interrupted'));
  assert.equal(listVersions(home.db).length, 0);
  const r = await addFile(ctx, src);
  const ac2 = new AbortController();
  const outDir = await tempDir(t);
  await assert.rejects(restoreFile(home, r.manifest_hash, keyOf(home, r.file_hash), join(outDir, 'o'), {
    pool, signal: ac2.signal, onProgress: () => ac2.abort(reason),
  }), isGrove('IO'));
  assert.deepEqual(await readdir(outDir), []);
});

test('verify reports corrupt, missing and unrecorded objects', async (t) => {
  const { home, dir, ctx } = await setup(t);
  const src = join(dir, 'v.bin');
  await writeFile(src, streamBytes('verify', C + 1));
  const r = await addFile(ctx, src);
  const clean = await verifyStore(home);
  assert.deepEqual(clean, { checked: 3, corrupt: [], missing: [], unrecorded: [] });
  const [c0, c1] = chunksOf(home.db, r.manifest_hash);
  await flipBit(home.objects.pathOf(c0!.hash), 7);
  await unlink(home.objects.pathOf(c1!.hash));
  const stray = await home.objects.put(Buffer.from('stray object'));
  const report = await verifyStore(home);
  assert.equal(report.checked, 3);
  assert.deepEqual(report.corrupt, [c0!.hash]);
  assert.deepEqual(report.missing, [c1!.hash]);
  assert.deepEqual(report.unrecorded, [stray.hash]);
});

test('every stored object is recorded in the catalog with its kind, size and owner', async (t) => {
  const { home, dir, ctx } = await setup(t);
  const src = join(dir, 'cat.bin');
  await writeFile(src, streamBytes('catalog', C + 9));
  const r = await addFile(ctx, src);
  const rows = home.db.prepare('SELECT hash, size, kind, owner FROM objects ORDER BY kind, hash').all() as { hash: string; size: number; kind: string; owner: string }[];
  assert.equal(rows.length, 3);
  for (const row of rows) {
    assert.equal(row.owner, home.keys.cellId);
    assert.equal(row.size, (await stat(home.objects.pathOf(row.hash))).size);
  }
  assert.deepEqual(rows.map((x) => x.kind), ['chunk', 'chunk', 'manifest']);
  assert.equal(rows[2]!.hash, r.manifest_hash);
});
