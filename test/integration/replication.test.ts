import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { writeFile, readFile, mkdtemp, rm, readdir } from 'node:fs/promises';
import { openSync, writeSync, closeSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { request } from 'node:https';
import { startCells, pairCells, restartCell, stopCell, waitFor, type TestCell } from '../helpers/cells.js';
import { addFile } from '../../src/ingest/add.js';
import { SealPool } from '../../src/ingest/pool.js';
import { chunksOf, byManifest } from '../../src/ingest/files.js';
import { restoreFile } from '../../src/ingest/restore.js';
import { verifyStore } from '../../src/ingest/verify.js';
import { fileKey } from '../../src/crypto/kdf.js';
import { repairObjects, fetchFromPeers } from '../../src/sync/repair.js';
import { exportKeyBundle, importKeyBundle } from '../../src/home/backup.js';
import { createCell } from '../../src/cell.js';
import { createInvite, pairWithCode } from '../../src/peers/pairing.js';
import { feedItems } from '../../src/share/received.js';
import { recordObject } from '../../src/store/catalog.js';
import { signRequest, toHttpHeaders, newNonce } from '../../src/net/signing.js';
import { pino } from 'pino';

// Replication between real cells on loopback, factor 2 (docs/design.md §4).

const MiB = 1024 * 1024;

async function addRandomFile(c: TestCell, dir: string, name: string, size: number) {
  const path = join(dir, name);
  const data = randomBytes(size);
  await writeFile(path, data);
  const pool = new SealPool();
  try {
    const r = await addFile({ home: c.cell.home, pool, now: c.clock.now }, path);
    return { ...r, data, path };
  } finally {
    await pool.close();
  }
}

/** Objects of a file version: its manifest and chunks. */
function fileObjects(c: TestCell, manifestHash: string): string[] {
  return [manifestHash, ...chunksOf(c.cell.home.db, manifestHash).map((x) => x.hash)];
}

function holdersOnDisk(cells: TestCell[], hash: string): string[] {
  return cells.filter((c) => c.cell.running && c.cell.home.objects.has(hash)).map((c) => c.name);
}

/** Flips one bit of a file in place (simulated disk corruption). */
function flipBit(path: string, offset: number): void {
  const bytes = readFileSync(path);
  bytes[offset] = bytes[offset]! ^ 0x01;
  const fd = openSync(path, 'r+');
  writeSync(fd, bytes, 0, bytes.length, 0);
  closeSync(fd);
}

async function tmp(t: import('node:test').TestContext) {
  const d = await mkdtemp(join(tmpdir(), 'grove-repl-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

test('four cells, factor 2: preferred first, exactly 2 copies, healing past the grace period, back to 2', async (t) => {
  const [a, b, c, d] = await startCells(t, 4, { config: { replication: { factor: 2, offline_grace_s: 60 } } });
  for (const x of [b!, c!, d!]) await pairCells(a!, x);
  a!.cell.peers.setPreferred(c!.id, true);
  const dir = await tmp(t);
  const f = await addRandomFile(a!, dir, 'photos.bin', 9 * MiB + 123);
  const objs = fileObjects(a!, f.manifest_hash);
  assert.equal(objs.length, 4);

  const s1 = await a!.cell.sync.service.runNow();
  assert.equal(s1.peers_reached, 3);
  assert.equal(s1.errors.length, 0, JSON.stringify(s1.errors));
  const holders = [b!, c!, d!];
  for (const h of objs) {
    const on = holdersOnDisk(holders, h);
    assert.equal(on.length, 2, `${h} held by ${on}`);
    assert.ok(on.includes('gamma'), 'the preferred peer holds every object');
  }
  assert.equal(s1.at_risk, 0);
  // A second round with nothing new moves nothing.
  const s2 = await a!.cell.sync.service.runNow();
  assert.equal(s2.pushed + s2.released, 0);

  // The non-preferred holder goes away; within the grace period it still counts.
  const other = [b!, d!].find((x) => x.cell.home.objects.has(objs[0]!))!;
  const spare = other === b ? d! : b!;
  await stopCell(other);
  const s3 = await a!.cell.sync.service.runNow();
  assert.equal(s3.pushed, 0, 'no churn within the grace period');
  // Past the grace period it no longer counts: the next round re-replicates to the spare peer.
  a!.clock.advance(61_000);
  const s4 = await a!.cell.sync.service.runNow();
  assert.ok(s4.healed >= objs.length, `healed ${s4.healed}`);
  for (const h of objs) assert.ok(spare.cell.home.objects.has(h), `${h} re-replicated to ${spare.name}`);
  assert.equal(s4.at_risk, 0);

  // The holder comes back: copies go back to exactly 2.
  await restartCell(other);
  const s5 = await a!.cell.sync.service.runNow();
  assert.ok(s5.released >= 1);
  for (const h of objs) {
    const on = holdersOnDisk(holders, h);
    assert.equal(on.length, 2, `${h} held by ${on} after the holder returned`);
    assert.ok(on.includes('gamma'));
  }
});

test('a corrupted local chunk is repaired from a holder', async (t) => {
  const [a, b] = await startCells(t, 2, { config: { replication: { factor: 1 } } });
  await pairCells(a!, b!);
  const dir = await tmp(t);
  const f = await addRandomFile(a!, dir, 'doc.bin', 5 * MiB);
  await a!.cell.sync.service.runNow();
  const chunk = chunksOf(a!.cell.home.db, f.manifest_hash)[1]!.hash;
  assert.ok(b!.cell.home.objects.has(chunk));
  // Flip one bit of A's copy.
  flipBit(a!.cell.home.objects.pathOf(chunk), 1000);
  const before = await verifyStore(a!.cell.home);
  assert.deepEqual(before.corrupt, [chunk]);
  const r = await repairObjects({ ...a!.cell.sync.fetch(), objects: a!.cell.home.objects }, before.corrupt);
  assert.deepEqual(r.repaired, [chunk]);
  const after = await verifyStore(a!.cell.home);
  assert.deepEqual(after.corrupt, []);
  // And the file reads back byte-identical.
  const out = join(dir, 'out.bin');
  await restoreFile(a!.cell.home, f.manifest_hash, fileKey(a!.cell.home.keys.master, Buffer.from(f.file_hash, 'hex')), out);
  assert.ok((await readFile(out)).equals(f.data));
});

test('total loss: key import + pairing with one survivor + restore brings every file back', async (t) => {
  const [a, b, c] = await startCells(t, 3, { config: { replication: { factor: 2 } } });
  await pairCells(a!, b!);
  await pairCells(a!, c!);
  const dir = await tmp(t);
  const f1 = await addRandomFile(a!, dir, 'one.bin', 4 * MiB + 1);
  const f2 = await addRandomFile(a!, dir, 'two.txt', 1000);
  // C shares a file with A, and A shares one with C: both survive the rebuild too.
  const fc = await addRandomFile(c!, dir, 'from-c.bin', 5000);
  assert.equal((await c!.cell.sharing.share(fc.path, [a!.id])).grants[0]!.delivered, true);
  await a!.cell.sharing.share(f2.path, [c!.id]);
  await a!.cell.chat.send(c!.id, 'before the disk died');
  await a!.cell.sync.service.runNow();
  const bundle = join(dir, 'keys.bundle');
  await exportKeyBundle(a!.root, bundle, 'correct horse battery', { scrypt: { N: 1024, r: 8, p: 1 } });
  const aId = a!.id;
  await stopCell(a!);
  await rm(a!.root, { recursive: true, force: true }); // the disk is gone

  const root2 = join(dir, 'new-machine');
  await importKeyBundle(root2, await readFile(bundle), 'correct horse battery', { passwordIterations: 1, password: 'new-password' });
  const a2 = await createCell({ home: root2, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), intervals: { probeMs: 0, syncMs: 0 }, control: false });
  t.after(() => a2.stop());
  await a2.start();
  assert.equal(a2.id, aId);
  // Pair with one surviving peer (it already knows this identity; pairing updates the route).
  await pairWithCode(a2, createInvite(b!.cell).code);
  await a2.probeAndBench();
  const r = await a2.sync.restore();
  assert.equal(r.restored, 2);
  assert.equal(r.grants_restored, 1);
  assert.equal(r.shares_restored, 1);
  assert.deepEqual(feedItems(a2.home).map((i) => i.filename), ['from-c.bin']);
  // Chat numbering continues: C accepts the rebuilt cell's next message.
  const sent = await a2.chat.send(c!.id, 'back again');
  assert.equal(sent.delivered, true, JSON.stringify(sent));
  assert.ok(a2.peers.get(c!.id), 'the other holder is learned from the index');
  for (const f of [f1, f2]) {
    const v = byManifest(a2.home.db, f.manifest_hash)!;
    const out = join(dir, `restored-${v.name}`);
    await restoreFile(a2.home, v.manifest_hash, fileKey(a2.home.keys.master, Buffer.from(v.file_hash, 'hex')), out, {
      fetchObject: (h) => fetchFromPeers(a2.sync.fetch(), h),
    });
    assert.ok((await readFile(out)).equals(f.data), `${v.name} byte-identical`);
  }
  // A sync round then pulls every chunk home.
  await a2.probeAndBench();
  const s = await a2.sync.service.runNow();
  assert.equal(s.errors.length, 0, JSON.stringify(s.errors));
  const v = await verifyStore(a2.home);
  assert.deepEqual(v.missing, []);
});

test('a transfer cut mid-chunk leaves nothing torn on the holder', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const data = randomBytes(4 * MiB + 16);
  const hash = createHash('sha256').update(data).digest('hex');
  const path = `/api/objects/${hash}?kind=chunk`;
  const signed = signRequest(a!.cell.home.keys.identity.privateKey, { method: 'PUT', path }, {
    from: a!.id, to: b!.id, ts: a!.clock.now(), nonce: newNonce(), bodySha256: hash,
  });
  const u = new URL(b!.url);
  const shard = join(b!.cell.home.paths.chunks, hash.slice(0, 2));
  const req = request({
    host: u.hostname, port: u.port, method: 'PUT', path, rejectUnauthorized: false, agent: false,
    headers: { ...toHttpHeaders(signed), 'content-type': 'application/octet-stream', 'content-length': String(data.length) },
  });
  const ended = new Promise<void>((resolve) => {
    req.on('error', () => resolve());
    req.on('response', () => resolve());
  });
  req.write(data.subarray(0, MiB));
  // Wait until the holder is writing the object (its temp file exists), then cut the connection.
  await waitFor(async () => (await readdir(shard).catch(() => [] as string[])).some((n) => n.startsWith('.tmp-')), 'the holder to start writing');
  req.destroy();
  await ended;
  await waitFor(async () => (await readdir(shard).catch(() => [] as string[])).length === 0, 'the holder to drop the partial upload');
  assert.equal(b!.cell.home.objects.has(hash), false);
  // The next attempt completes.
  const r = await a!.cell.client.call(b!.url, b!.id, 'PUT', path, { body: data });
  assert.equal(r.status, 200);
  assert.ok(b!.cell.home.objects.has(hash));
});

/** Counts every byte crossing a cell's peer-API sockets (both directions) from now on. */
function trackBytes(holder: TestCell): () => number {
  const open = new Set<import('node:net').Socket>();
  let closed = 0;
  holder.cell.app.server.on('connection', (s: import('node:net').Socket) => {
    open.add(s);
    s.on('close', () => {
      closed += s.bytesRead + s.bytesWritten;
      open.delete(s);
    });
  });
  return () => {
    let n = closed;
    for (const s of open) n += s.bytesRead + s.bytesWritten;
    return n;
  };
}

test('an idle round costs the same few KiB with 100 or 10 000 objects stored', async (t) => {
  const measure = async (n: number) => {
    const [a, b] = await startCells(t, 2, { config: { replication: { factor: 1 } } });
    const bytes = trackBytes(b!);
    await pairCells(a!, b!);
    // Seed n tiny objects owned by A and already held by B (what replication leaves behind).
    const now = a!.clock.now();
    const seeded: { hash: string; size: number }[] = [];
    for (let i = 0; i < n; i++) {
      const data = Buffer.from(`object ${i} ${randomBytes(8).toString('hex')}`);
      const hash = createHash('sha256').update(data).digest('hex');
      await a!.cell.home.objects.putHashed(hash, data, { sync: false });
      await b!.cell.home.objects.putHashed(hash, data, { sync: false });
      seeded.push({ hash, size: data.length });
    }
    for (const x of [a!, b!]) {
      x.cell.home.db.transaction(() => {
        for (const o of seeded) recordObject(x.cell.home.db, { ...o, kind: 'chunk', owner: a!.id }, now);
      })();
    }
    // First round reads B's whole inventory and confirms the placements: nothing to push.
    const first = await a!.cell.sync.service.runNow();
    assert.equal(first.pushed, 0, JSON.stringify(first));
    assert.ok(bytes() > n * 64, 'the first round read the whole inventory');
    const before = bytes();
    const idle = await a!.cell.sync.service.runNow();
    assert.equal(idle.pushed + idle.pulled + idle.released, 0);
    return bytes() - before;
  };
  const small = await measure(100);
  const large = await measure(10_000);
  t.diagnostic(`idle round bytes: 100 objects ${small}, 10000 objects ${large}`);
  assert.ok(small > 0, 'the idle round was measured');
  assert.ok(large < 16 * 1024, `idle round at 10 000 objects cost ${large} bytes`);
  assert.ok(large <= small * 1.2 + 256, `idle round grew from ${small} to ${large} bytes`);
});

test('a corrupt copy on a holder is dropped when found, and the next round replaces it', async (t) => {
  const [a, b] = await startCells(t, 2, { config: { replication: { factor: 1 } } });
  await pairCells(a!, b!);
  const dir = await tmp(t);
  const f = await addRandomFile(a!, dir, 'x.bin', 100_000);
  await a!.cell.sync.service.runNow();
  const chunk = chunksOf(a!.cell.home.db, f.manifest_hash)[0]!.hash;
  flipBit(b!.cell.home.objects.pathOf(chunk), 10);
  // A reads it back from B: refused as corrupt, and B drops its copy.
  await assert.rejects(a!.cell.client.call(b!.url, b!.id, 'GET', `/api/objects/${chunk}`), /500|CORRUPT/);
  await waitFor(() => !b!.cell.home.objects.has(chunk), 'the holder to drop its corrupt copy');
  const s = await a!.cell.sync.service.runNow();
  assert.ok(s.pushed >= 1);
  assert.ok(b!.cell.home.objects.has(chunk));
  assert.equal(await b!.cell.home.objects.check(chunk), 'ok');
});

test('copies a share recipient keeps for its grant count, and are not asked back round after round', async (t) => {
  const [a, b, c] = await startCells(t, 3, { config: { replication: { factor: 1 } } });
  await pairCells(a!, b!);
  await pairCells(a!, c!);
  a!.cell.peers.setPreferred(c!.id, true);
  const dir = await tmp(t);
  const f = await addRandomFile(a!, dir, 'shared.bin', 5 * MiB);
  const objs = fileObjects(a!, f.manifest_hash);
  await a!.cell.sync.service.runNow();
  for (const h of objs) assert.deepEqual(holdersOnDisk([b!, c!], h), ['gamma'], 'factor 1: the preferred peer holds it');
  // Sharing with B gives B copies too: one more than the factor. A asks B to release; B
  // refuses (its grant needs them), and A then counts them and stops asking.
  const shared = await a!.cell.sharing.share(f.path, [b!.id]);
  assert.equal(shared.grants[0]!.delivered, true);
  const s1 = await a!.cell.sync.service.runNow();
  assert.equal(s1.released, 0);
  for (const h of objs) assert.deepEqual(holdersOnDisk([b!, c!], h), ['beta', 'gamma'], 'the recipient keeps its copy');
  const s2 = await a!.cell.sync.service.runNow();
  assert.equal(s2.pushed + s2.released, 0);
  assert.equal(s2.errors.length, 0, JSON.stringify(s2.errors));
  assert.equal(s2.at_risk, 0);
  const pinned = a!.cell.home.db.prepare("SELECT COUNT(*) AS n FROM placements WHERE peer_id = ? AND state = 'pinned'").get(b!.id) as { n: number };
  assert.equal(pinned.n, objs.length);
});

test('a corrupt local object is never spread: the holder refuses it and the round reports it', async (t) => {
  const [a, b] = await startCells(t, 2, { config: { replication: { factor: 1 } } });
  await pairCells(a!, b!);
  const dir = await tmp(t);
  const f = await addRandomFile(a!, dir, 'y.bin', 300_000);
  const chunk = chunksOf(a!.cell.home.db, f.manifest_hash)[0]!.hash;
  flipBit(a!.cell.home.objects.pathOf(chunk), 5);
  const s = await a!.cell.sync.service.runNow();
  assert.ok(s.errors.some((e) => e.step === 'push' && /corrupt/.test(e.error)), JSON.stringify(s.errors));
  assert.equal(b!.cell.home.objects.has(chunk), false);
  assert.ok(b!.cell.home.objects.has(f.manifest_hash), 'the sound objects were placed');
  assert.equal(s.at_risk, 1);
});

test("a peer's inventory lists only its own objects held there", async (t) => {
  const [a, b, c] = await startCells(t, 3, { config: { replication: { factor: 1 } } });
  await pairCells(b!, a!);
  await pairCells(b!, c!);
  const dir = await tmp(t);
  const fa = await addRandomFile(a!, dir, 'a.bin', 1000);
  await addRandomFile(c!, dir, 'c.bin', 2000);
  await a!.cell.sync.service.runNow();
  await c!.cell.sync.service.runNow();
  const inv = await a!.cell.client.call<{ items: { hash: string; owner: string }[] }>(b!.url, b!.id, 'GET', '/api/inventory?since=0');
  assert.ok(inv.data.items.length >= 2);
  assert.ok(inv.data.items.every((i) => i.owner === a!.id), 'no other owner is listed');
  assert.ok(inv.data.items.some((i) => i.hash === fa.manifest_hash));
});
