import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { startCells, pairCells, rawSigned, waitFor, type TestCell } from '../helpers/cells.js';
import { signRequest, toHttpHeaders, newNonce } from '../../src/net/signing.js';
import { request } from 'node:https';
import { sha, tempFiles, startCellAt } from '../helpers/harden.js';
import { smallDisk, fillDisk } from '../helpers/tmpfs.js';
import {
  BATCH_MAGIC, BATCH_PATH, FETCH_PATH, MAX_BATCH_BYTES, MAX_BATCH_OBJECTS, MAX_FETCH_OBJECTS, encodeFrameHead, type BatchKind, type BatchResult,
} from '../../src/formats/batch.js';
import { MAX_OBJECT_BYTES, ObjectStore } from '../../src/store/objects.js';
import { pullBatch } from '../../src/sync/transfer.js';
import { getObject, objectTotals, ownerUsage } from '../../src/store/catalog.js';
import { holdersOf } from '../../src/sync/placements.js';
import { chunksOf } from '../../src/ingest/files.js';
import { addFile } from '../../src/ingest/add.js';
import { SealPool } from '../../src/ingest/pool.js';
import { runRound } from '../../src/sync/round.js';
import type { PeerClient } from '../../src/net/client.js';
import type { BatchSupport } from '../../src/sync/push.js';
import { GroveError } from '../../src/errors.js';

// Batch uploads between real cells on loopback (docs/protocol.md "Batch uploads").

const KiB = 1024;
type Obj = { data: Buffer; kind?: BatchKind; hash?: string; length?: number };

function body(objs: Obj[]): Buffer {
  return Buffer.concat([BATCH_MAGIC, ...objs.flatMap((o) => [encodeFrameHead(o.hash ?? sha(o.data), o.kind ?? 'chunk', o.length ?? o.data.length), o.data])]);
}

async function postBatch(a: TestCell, b: TestCell, bytes: Buffer | Readable, bodySha256?: string) {
  return a.cell.client.call<{ results: BatchResult[] }>(b.url, b.id, 'POST', BATCH_PATH, { body: bytes, ...(bodySha256 ? { bodySha256 } : {}) });
}

const status = (n: number, code?: string) => (e: unknown) => e instanceof GroveError && e.detail?.status === n && (code === undefined || e.detail?.code === code);

async function addFiles(c: TestCell, n: number, size: number): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'grove-batch-'));
  const pool = new SealPool({ workers: 1 });
  const manifests: string[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const p = join(dir, `f${i}.bin`);
      await writeFile(p, randomBytes(size));
      manifests.push((await addFile({ home: c.cell.home, pool, now: c.clock.now }, p)).manifest_hash);
    }
  } finally {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  }
  return manifests;
}

test('a batch stores each good object and refuses each bad one alone, with its reason', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const good = [randomBytes(64 * KiB), randomBytes(10), Buffer.alloc(0), randomBytes(3000)];
  const wrong = randomBytes(500);
  const big = randomBytes(MAX_OBJECT_BYTES + 1);
  const r = await postBatch(a!, b!, body([
    { data: good[0]! },
    { data: wrong, hash: sha(randomBytes(500)) }, // bytes that are not the object they claim
    { data: good[1]!, kind: 'manifest' },
    { data: big }, // over the object limit
    { data: good[2]! },
    { data: good[0]! }, // the same object twice in one batch
    { data: good[3]!, kind: 'index' },
  ]));
  assert.equal(r.status, 200);
  const results = r.data.results;
  assert.deepEqual(results.map((x) => (x.stored ? 'stored' : x.error)), ['stored', 'BAD_INPUT', 'stored', 'TOO_LARGE', 'stored', 'BAD_INPUT', 'stored']);
  for (const g of good) {
    assert.equal(getObject(b!.cell.home.db, sha(g))?.owner, a!.id);
    assert.deepEqual(await b!.cell.home.objects.get(sha(g)), g);
  }
  assert.equal(getObject(b!.cell.home.db, sha(good[1]!))?.kind, 'manifest');
  assert.equal(getObject(b!.cell.home.db, sha(good[3]!))?.kind, 'index');
  assert.equal(objectTotals(b!.cell.home.db).objects, good.length, 'nothing else recorded');
  assert.equal(b!.cell.home.objects.has(sha(big)), false);
  assert.deepEqual(await tempFiles(b!.cell.home.objects.dir), []);
  // The same batch again: everything already held is "stored" at no cost.
  const again = await postBatch(a!, b!, body(good.map((data) => ({ data }))));
  assert.ok(again.data.results.every((x) => x.stored));
  assert.equal(ownerUsage(b!.cell.home.db, a!.id), good.reduce((n, g) => n + g.length, 0));
});

test('an unknown kind code is refused alone', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const ok = randomBytes(100);
  const odd = randomBytes(100);
  const head = encodeFrameHead(sha(odd), 'chunk', odd.length);
  head[32] = 9;
  const r = await postBatch(a!, b!, Buffer.concat([BATCH_MAGIC, head, odd, encodeFrameHead(sha(ok), 'chunk', ok.length), ok]));
  assert.deepEqual(r.data.results.map((x) => (x.stored ? 'stored' : x.error)), ['BAD_INPUT', 'stored']);
  assert.equal(b!.cell.home.objects.has(sha(odd)), false);
});

test('a malformed, unsigned-for or oversized batch stores nothing at all', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const objs = [{ data: randomBytes(1000) }, { data: randomBytes(1000) }];
  const whole = body(objs);
  const nothingStored = async (what: string) => {
    assert.equal(objectTotals(b!.cell.home.db).objects, 0, what);
    assert.deepEqual(await tempFiles(b!.cell.home.objects.dir), [], what);
  };
  // Signed for another body: the objects are fine, but not what the caller signed.
  const other = sha(body([objs[0]!]));
  await assert.rejects(postBatch(a!, b!, Readable.from([whole]), other), status(401));
  await nothingStored('signed hash of another body');
  // Cut inside the second object (signed as cut): framing broken, nothing is kept.
  await assert.rejects(postBatch(a!, b!, whole.subarray(0, whole.length - 10)), status(400));
  await nothingStored('truncated');
  // Not a batch body.
  await assert.rejects(postBatch(a!, b!, Buffer.from('{"hashes":[]}')), status(400));
  // One object more than the bound.
  const many = Array.from({ length: MAX_BATCH_OBJECTS + 1 }, (_, i) => ({ data: Buffer.from(`o${i}`) }));
  await assert.rejects(postBatch(a!, b!, body(many)), status(413));
  await nothingStored('too many objects');
  // Exactly at the bound is fine.
  const atBound = await postBatch(a!, b!, body(many.slice(0, MAX_BATCH_OBJECTS)));
  assert.equal(atBound.data.results.length, MAX_BATCH_OBJECTS);
  assert.equal(objectTotals(b!.cell.home.db).objects, MAX_BATCH_OBJECTS);
  // A declared length past the byte bound: 413 before a byte is read.
  const before = objectTotals(b!.cell.home.db).objects;
  const { res } = await rawSigned(a!, b!, 'POST', BATCH_PATH, { body: Buffer.alloc(MAX_BATCH_BYTES + 1) });
  assert.equal(res.status, 413);
  // Streamed (no declared length) past the bound: cut once the bound is passed.
  const huge = Array.from({ length: 5 }, () => ({ data: randomBytes(MAX_OBJECT_BYTES) }));
  const streamed = await rawSigned(a!, b!, 'POST', BATCH_PATH, { body: body(huge), chunked: true });
  assert.equal(streamed.res.status, 413);
  assert.equal(objectTotals(b!.cell.home.db).objects, before);
  assert.deepEqual(await tempFiles(b!.cell.home.objects.dir), []);
});

test('a batch near the owner\'s quota stores what fits and refuses the rest as QUOTA_EXCEEDED', async (t) => {
  const [a, b] = await startCells(t, 2, { config: (i) => (i === 1 ? { quota: { default_bytes: 100 * KiB, per_owner: {} } } : {}) });
  await pairCells(a!, b!);
  const objs = Array.from({ length: 5 }, () => ({ data: randomBytes(30 * KiB) }));
  const r = await postBatch(a!, b!, body(objs));
  assert.deepEqual(r.data.results.map((x) => (x.stored ? 'stored' : x.error)), ['stored', 'stored', 'stored', 'QUOTA_EXCEEDED', 'QUOTA_EXCEEDED']);
  assert.equal(ownerUsage(b!.cell.home.db, a!.id), 90 * KiB);
  assert.deepEqual(await tempFiles(b!.cell.home.objects.dir), []);
});

test('the sync round sends small objects in batches; a corrupt one is refused alone, the rest placed', async (t) => {
  const [a, b] = await startCells(t, 2, { config: { replication: { factor: 1 } } });
  await pairCells(a!, b!);
  const manifests = await addFiles(a!, 40, 20 * KiB);
  const chunks = manifests.map((m) => chunksOf(a!.cell.home.db, m)[0]!.hash);
  // One chunk goes bad on A's disk (same size, one bit flipped).
  const bad = chunks[7]!;
  const path = a!.cell.home.objects.pathOf(bad);
  const bytes = readFileSync(path);
  bytes[100]! ^= 1;
  writeFileSync(path, bytes);
  const corrupt: string[] = [];
  a!.cell.events.on('corrupt', (h) => corrupt.push(h));
  let requests = 0;
  b!.cell.events.on('upload-request', () => { requests++; });
  const s = await a!.cell.sync.service.runNow();
  assert.equal(s.errors.filter((e) => e.step === 'push').length, 1, JSON.stringify(s.errors));
  for (const h of [...manifests, ...chunks]) {
    const placed = holdersOf(a!.cell.home.db, h).some((x) => x.peer === b!.id);
    assert.equal(placed, h !== bad, `${h} placed: ${placed}`);
    assert.equal(b!.cell.home.objects.has(h), h !== bad);
  }
  assert.deepEqual(corrupt, [bad], 'the corrupt local copy is reported for repair');
  assert.ok(requests >= 80, 'every object reached the holder');
  assert.deepEqual(await tempFiles(b!.cell.home.objects.dir), []);
});

test('the round stops pushing to a holder whose quota ran out, and places only what it stored', async (t) => {
  const [a, b] = await startCells(t, 2, { config: (i) => (i === 1 ? { quota: { default_bytes: 200 * KiB, per_owner: {} } } : { replication: { factor: 1 } }) });
  await pairCells(a!, b!);
  const manifests = await addFiles(a!, 30, 20 * KiB);
  const s = await a!.cell.sync.service.runNow();
  const stored = [...manifests, ...manifests.map((m) => chunksOf(a!.cell.home.db, m)[0]!.hash)].filter((h) => b!.cell.home.objects.has(h));
  assert.ok(stored.length > 0 && stored.length < 60, `${stored.length} stored`);
  assert.ok(ownerUsage(b!.cell.home.db, a!.id) <= 200 * KiB);
  const placed = manifests.flatMap((m) => [m, chunksOf(a!.cell.home.db, m)[0]!.hash]).filter((h) => holdersOf(a!.cell.home.db, h).length > 0);
  assert.deepEqual(placed.sort(), stored.sort(), 'placements are exactly what the holder confirmed');
  assert.ok(s.errors.some((e) => /QUOTA_EXCEEDED/.test(e.error)), JSON.stringify(s.errors));
});

test('a holder without the batch endpoint gets every object one by one', async (t) => {
  const [a, b] = await startCells(t, 2, { config: { replication: { factor: 1 } } });
  await pairCells(a!, b!);
  // What an older cell answers to a path it does not know, body and all: 404.
  const probe = body([{ data: randomBytes(100) }]);
  await assert.rejects(a!.cell.client.call(b!.url, b!.id, 'POST', `${BATCH_PATH}-v0`, { body: Readable.from([probe]), bodySha256: sha(probe) }), status(404));
  // The same through a client that plays an older holder: the batch path is unknown there.
  const real = a!.cell.client;
  let batches = 0;
  const old = Object.create(real) as PeerClient;
  old.call = ((url: string, peer: string, method: string, path: string, opts?: Parameters<PeerClient['call']>[4]) => {
    if (path === BATCH_PATH) {
      batches++;
      return Promise.reject(new GroveError('PEER_ERROR', 'peer refused: 404 NOT_FOUND', { status: 404, code: 'NOT_FOUND' }));
    }
    return real.call(url, peer, method, path, opts);
  }) as PeerClient['call'];
  const manifests = await addFiles(a!, 10, 5 * KiB);
  const batchSupport: BatchSupport = new Map();
  const s = await runRound({ ...a!.cell.sync.env(), client: old, batchSupport });
  assert.equal(s.errors.length, 0, JSON.stringify(s.errors));
  assert.equal(s.pushed, 20);
  assert.equal(batches, 1, 'asked once (404), then single uploads for that holder');
  assert.equal(batchSupport.get(b!.id)?.ok, false);
  for (const m of manifests) assert.ok(b!.cell.home.objects.has(m));
  // The next round does not ask again for a while.
  await addFiles(a!, 5, 5 * KiB);
  const s2 = await runRound({ ...a!.cell.sync.env(), client: old, batchSupport });
  assert.equal(s2.pushed, 10);
  assert.equal(batches, 1);
  // A current holder is asked once (an empty batch), remembered, and gets batches.
  let calls = 0;
  const counting = Object.create(real) as PeerClient;
  counting.call = ((url: string, peer: string, method: string, path: string, opts?: Parameters<PeerClient['call']>[4]) => {
    if (path === BATCH_PATH) calls++;
    return real.call(url, peer, method, path, opts);
  }) as PeerClient['call'];
  await addFiles(a!, 5, 5 * KiB);
  const support: BatchSupport = new Map();
  const s3 = await runRound({ ...a!.cell.sync.env(), client: counting, batchSupport: support });
  assert.equal(s3.errors.length, 0, JSON.stringify(s3.errors));
  assert.equal(s3.pushed, 10);
  assert.equal(support.get(b!.id)?.ok, true);
  assert.equal(calls, 2, 'the question, then one batch of all ten objects');
});

test('a holder out of disk refuses what does not fit above its reserve, alone; nothing torn is left', async (t) => {
  const disk = await smallDisk(t, 64);
  if (!disk) return;
  const [a] = await startCells(t, 1);
  const b = await startCellAt(t, join(disk, 'home'), 'beta', { storage: { reserve_bytes: 8 * 1024 * KiB } });
  await pairCells(a!, b);
  // Room above the reserve for about three of these objects.
  await fillDisk(disk, 8 * 1024 * KiB + 200 * KiB);
  const objs = Array.from({ length: 6 }, () => ({ data: randomBytes(64 * KiB) }));
  const r = await postBatch(a!, b, body(objs));
  const got = r.data.results.map((x) => (x.stored ? 'stored' : x.error));
  const n = got.filter((x) => x === 'stored').length;
  assert.ok(n >= 1 && n <= 3, got.join(','));
  assert.deepEqual(got, [...Array(n).fill('stored'), ...Array(6 - n).fill('DISK_FULL')]);
  for (const [i, o] of objs.entries()) assert.equal(b.cell.home.objects.has(sha(o.data)), i < n);
  assert.equal(objectTotals(b.cell.home.db).objects, n);
  assert.deepEqual(await tempFiles(b.cell.home.objects.dir), []);
  // No room at all: refused before the body is read; the holder still answers.
  await fillDisk(disk, 0);
  await assert.rejects(postBatch(a!, b, body([{ data: randomBytes(10) }])), status(507, 'DISK_FULL'));
  assert.equal((await a!.cell.call(b.id, 'GET', '/api/health')).status, 200);
});

test('a batch cut off mid-body leaves no temp file and gives back what it reserved', async (t) => {
  const [a, b] = await startCells(t, 2, { config: (i) => (i === 1 ? { quota: { default_bytes: 100 * KiB, per_owner: {} } } : {}) });
  await pairCells(a!, b!);
  const objs = Array.from({ length: 3 }, () => ({ data: randomBytes(30 * KiB) }));
  const whole = body(objs);
  const signed = signRequest(a!.cell.home.keys.identity.privateKey, { method: 'POST', path: BATCH_PATH }, {
    from: a!.id, to: b!.id, ts: a!.clock.now(), nonce: newNonce(), bodySha256: sha(whole),
  });
  const u = new URL(b!.url);
  let heads = 0;
  b!.cell.events.on('upload-request', () => { heads++; });
  const req = request({
    host: u.hostname, port: u.port, method: 'POST', path: BATCH_PATH, rejectUnauthorized: false, minVersion: 'TLSv1.3', agent: false,
    headers: { ...toHttpHeaders(signed), 'content-type': 'application/octet-stream', 'content-length': whole.length },
  });
  req.on('error', () => {});
  req.write(whole.subarray(0, whole.length - 1000)); // every head arrived, the last object is short
  await waitFor(() => heads === 3, 'the holder to read every head');
  await waitFor(async () => (await tempFiles(b!.cell.home.objects.dir)).length >= 1, 'objects staged');
  req.destroy();
  // Nothing was confirmed or left behind, and the 90 KiB reserved were given back: the same
  // objects fit the 100 KiB quota in one piece afterwards.
  await waitFor(async () => (await postBatch(a!, b!, whole)).data.results.every((x) => x.stored), 'the whole batch to fit the quota again');
  assert.equal(ownerUsage(b!.cell.home.db, a!.id), 90 * KiB);
  assert.deepEqual(await tempFiles(b!.cell.home.objects.dir), []);
});

test('a batch download gives the caller what it may see and this cell holds intact, nothing else', async (t) => {
  const [a, b, c] = await startCells(t, 3);
  await pairCells(a!, b!);
  await pairCells(c!, b!);
  const mine = [randomBytes(1000), randomBytes(70 * KiB), randomBytes(10)];
  await postBatch(a!, b!, body(mine.map((data) => ({ data }))));
  // One of them goes bad on the holder's disk.
  const path = b!.cell.home.objects.pathOf(sha(mine[2]!));
  writeFileSync(path, Buffer.from('0123456789'));
  const corrupt: string[] = [];
  b!.cell.events.on('corrupt', (h) => corrupt.push(h));
  const missing = sha(Buffer.from('never stored'));
  const ask = [sha(mine[0]!), missing, sha(mine[1]!), sha(mine[2]!)];
  const dir = await mkdtemp(join(tmpdir(), 'grove-fetch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const into = new ObjectStore(join(dir, 'chunks'));
  const got = await pullBatch(a!.cell.client, { peerId: b!.id, url: b!.url }, into, ask);
  assert.deepEqual(got, [{ hash: sha(mine[0]!), size: 1000 }, { hash: sha(mine[1]!), size: 70 * KiB }]);
  assert.deepEqual(await into.get(sha(mine[1]!)), mine[1]);
  assert.deepEqual(corrupt, [sha(mine[2]!)]);
  // Another peer gets none of A's objects (the same empty answer as for objects it lacks).
  const other = new ObjectStore(join(dir, 'other'));
  assert.deepEqual(await pullBatch(c!.cell.client, { peerId: b!.id, url: b!.url }, other, ask.slice(0, 3)), []);
  // Malformed requests.
  for (const q of ['', 'xyz', sha(mine[0]!).toUpperCase(), sha(mine[0]!) + sha(mine[0]!), 'a'.repeat(64 * (MAX_FETCH_OBJECTS + 1))]) {
    const { res } = await rawSigned(a!, b!, 'GET', `${FETCH_PATH}?hashes=${q}`);
    assert.equal(res.status, 400, q.slice(0, 20));
  }
});

test('a batch download that is not what was asked, or not what was signed, stores nothing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'grove-fetch-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const into = new ObjectStore(join(dir, 'chunks'));
  const x = randomBytes(3000);
  const y = randomBytes(3000);
  const fake = (bytes: Buffer, signed = sha(bytes)) => ({
    download: (async (_u: string, _p: string, _path: string, sink: (body: Readable, expected: string) => Promise<unknown>) =>
      ({ result: await sink(Readable.from([bytes]), signed), latencyMs: 0 })) as unknown as PeerClient['download'],
  });
  const route = { peerId: 'p', url: 'https://127.0.0.1:1' };
  const peerError = (e: unknown) => e instanceof GroveError && e.code === 'PEER_ERROR';
  await assert.rejects(pullBatch(fake(body([{ data: x }, { data: y }])), route, into, [sha(x)]), peerError, 'an object not asked for');
  await assert.rejects(pullBatch(fake(body([{ data: y, hash: sha(x) }])), route, into, [sha(x)]), peerError, 'bytes of another object');
  await assert.rejects(pullBatch(fake(body([{ data: x }]), sha(body([{ data: y }]))), route, into, [sha(x)]), peerError, 'not the signed body');
  await assert.rejects(pullBatch(fake(body([{ data: x }]).subarray(0, 100)), route, into, [sha(x)]), peerError, 'cut short');
  assert.equal(into.has(sha(x)) || into.has(sha(y)), false);
  assert.deepEqual(await tempFiles(into.dir), []);
  assert.deepEqual(await pullBatch(fake(body([{ data: x }])), route, into, [sha(x), sha(y)]), [{ hash: sha(x), size: 3000 }]);
});

test('a cell that lost its objects gets them back from a holder in batch downloads', async (t) => {
  const [a, b] = await startCells(t, 2, { config: { replication: { factor: 1 } } });
  await pairCells(a!, b!);
  const manifests = await addFiles(a!, 30, 8 * KiB);
  await a!.cell.sync.service.runNow();
  const objs = [...manifests, ...manifests.map((m) => chunksOf(a!.cell.home.db, m)[0]!.hash)];
  for (const h of objs) await a!.cell.home.objects.remove(h);
  a!.cell.home.db.prepare('DELETE FROM objects').run();
  const real = a!.cell.client;
  let batches = 0;
  let singles = 0;
  const counting = Object.create(real) as PeerClient;
  counting.download = ((url: string, peer: string, path: string, sink: never, opts?: Parameters<PeerClient['download']>[4]) => {
    if (path.startsWith(`${FETCH_PATH}?`)) batches++;
    else singles++;
    return real.download(url, peer, path, sink, opts);
  }) as PeerClient['download'];
  const s = await runRound({ ...a!.cell.sync.env(), client: counting });
  assert.equal(s.errors.length, 0, JSON.stringify(s.errors));
  assert.equal(s.pulled, objs.length);
  assert.equal(singles, 0);
  assert.ok(batches >= 1 && batches <= 2, `${batches} batch downloads`);
  for (const h of objs) assert.equal(await a!.cell.home.objects.check(h), 'ok');
  assert.equal(getObject(a!.cell.home.db, manifests[0]!)?.kind, 'manifest');
  assert.deepEqual(await tempFiles(a!.cell.home.objects.dir), []);
});
