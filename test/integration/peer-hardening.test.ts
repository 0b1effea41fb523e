import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import type { IncomingMessage, ClientRequest } from 'node:http';
import { request } from 'node:https';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCells, pairCells, type TestCell } from '../helpers/cells.js';
import { signRequest, toHttpHeaders, newNonce } from '../../src/net/signing.js';
import { MAX_PUTS_IN_FLIGHT_PER_PEER } from '../../src/api/uploads.js';
import { getObject, ownerUsage, recordObject, recordObjects, recordRemoved } from '../../src/store/catalog.js';
import { createGrant } from '../../src/formats/grant.js';
import { sealMessage } from '../../src/formats/chat.js';
import { MAX_GRANTS_PER_CREATOR, MAX_GRANT_AGE_MS, MAX_PENDING_GRANTS_PER_CREATOR, PENDING_GRANT_TTL_MS } from '../../src/share/received.js';
import { MAX_INBOX_BYTES_PER_PEER } from '../../src/chat/messages.js';
import { SealPool } from '../../src/ingest/pool.js';
import { addFile } from '../../src/ingest/add.js';
import { GroveError } from '../../src/errors.js';
import { runRound } from '../../src/sync/round.js';
import type { PeerClient } from '../../src/net/client.js';
import { pino } from 'pino';

// Regression tests of the peer-input review: what a paired but malicious peer must not get.

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const status = (code: number) => (e: unknown) => e instanceof GroveError && e.code === 'PEER_ERROR' && e.detail?.status === code;

/** A signed PUT whose headers (and the first half of the body) are sent now, the rest on finish(). */
function slowPut(from: TestCell, to: TestCell, data: Buffer) {
  const hash = sha(data);
  const path = `/api/objects/${hash}?kind=chunk`;
  const signed = signRequest(from.cell.home.keys.identity.privateKey, { method: 'PUT', path }, {
    from: from.id, to: to.id, ts: from.clock.now(), nonce: newNonce(), bodySha256: hash,
  });
  const u = new URL(to.url);
  let req!: ClientRequest;
  const res = new Promise<number>((resolve, reject) => {
    req = request({
      host: u.hostname, port: u.port, method: 'PUT', path, rejectUnauthorized: false, agent: false,
      headers: { ...toHttpHeaders(signed), 'content-type': 'application/octet-stream', 'content-length': data.length },
    }, (r: IncomingMessage) => {
      r.resume();
      r.on('end', () => resolve(r.statusCode ?? 0));
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' || (e as NodeJS.ErrnoException).code === 'EPIPE' ? resolve(-1) : reject(e)));
  });
  req.write(data.subarray(0, data.length >> 1));
  return { res, finish: () => req.end(data.subarray(data.length >> 1)) };
}

/** Resolves once `n` uploads have reached the holder's handler. */
function uploadsStarted(holder: TestCell, n: number): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const on = () => {
      if (++seen < n) return;
      holder.cell.events.off('upload-request', on);
      resolve();
    };
    holder.cell.events.on('upload-request', on);
  });
}

test('parallel uploads cannot together run past the owner\'s quota', async (t) => {
  const [a, b] = await startCells(t, 2, { config: (i) => (i === 1 ? { quota: { default_bytes: 1024 * 1024, per_owner: {} } } : {}) });
  await pairCells(a!, b!);
  const receiving = uploadsStarted(b!, 4);
  const puts = [0, 1, 2, 3].map(() => slowPut(a!, b!, randomBytes(600 * 1024)));
  await receiving; // every request has reached its handler
  for (const p of puts) p.finish();
  const codes = await Promise.all(puts.map((p) => p.res));
  assert.equal(codes.filter((c) => c === 200).length, 1, `one upload fits the quota: ${codes.join(',')}`);
  assert.ok(ownerUsage(b!.cell.home.db, a!.id) <= 1024 * 1024);
});

test('a peer cannot hold more than the bounded number of uploads open at once', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const receiving = uploadsStarted(b!, MAX_PUTS_IN_FLIGHT_PER_PEER);
  const open = Array.from({ length: MAX_PUTS_IN_FLIGHT_PER_PEER }, () => slowPut(a!, b!, randomBytes(64 * 1024)));
  await receiving;
  await assert.rejects(a!.cell.call(b!.id, 'PUT', `/api/objects/${sha(Buffer.from('x'))}`, { body: Buffer.from('x') }), status(409));
  for (const p of open) p.finish();
  const codes = await Promise.all(open.map((p) => p.res));
  assert.deepEqual(codes.filter((c) => c !== 200), []);
  // Once they are done, uploads are accepted again.
  const ok = await a!.cell.call(b!.id, 'PUT', `/api/objects/${sha(Buffer.from('x'))}`, { body: Buffer.from('x') });
  assert.equal(ok.status, 200);
});

test('restore trusts the created_at sealed in the index, not a holder\'s pointer (no rollback to a stale index)', async (t) => {
  const [a, b, c] = await startCells(t, 3, { config: { replication: { factor: 2 } } });
  await pairCells(a!, b!);
  await pairCells(a!, c!);
  const dir = await mkdtemp(join(tmpdir(), 'grove-hard-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const pool = new SealPool({ workers: 1 });
  t.after(() => pool.close());
  const add = async (name: string) => {
    const p = join(dir, name);
    await writeFile(p, randomBytes(1000));
    return addFile({ home: a!.cell.home, pool, now: a!.clock.now }, p);
  };
  await add('one.bin');
  await a!.cell.sync.service.runNow();
  const meta = (k: string) => (a!.cell.home.db.prepare('SELECT value FROM meta WHERE key = ?').get(k) as { value: string }).value;
  const staleHash = meta('index_hash');
  const staleBytes = await c!.cell.home.objects.get(staleHash);
  a!.clock.advance(1000);
  await add('two.bin');
  await a!.cell.sync.service.runNow();
  assert.notEqual(meta('index_hash'), staleHash);
  // c turns malicious: it keeps the old index and points to it with a created_at far ahead.
  await c!.cell.home.objects.put(staleBytes);
  recordObject(c!.cell.home.db, { hash: staleHash, size: staleBytes.length, kind: 'index', owner: a!.id }, c!.clock.now());
  c!.cell.home.db.prepare('UPDATE index_pointers SET hash = ?, created_at = ? WHERE owner = ?').run(staleHash, Number.MAX_SAFE_INTEGER, a!.id);
  const r = await a!.cell.sync.restore();
  assert.equal(r.files, 2, 'the newest index (two files) wins');
  assert.equal(r.index_from, b!.id);
  assert.equal(a!.cell.home.objects.has(staleHash), false, 'the stale index fetched to compare is not kept');
});

/** A valid grant from `a` to `b` for a manifest that does not exist. */
function randomGrant(a: TestCell, b: TestCell) {
  return createGrant({
    identity: a.cell.home.keys.identity, creatorId: a.id, recipientId: b.id,
    recipientX25519Raw: b.cell.home.keys.x25519.publicRaw, manifestHash: randomBytes(32).toString('hex'), fileKey: randomBytes(32),
    filename: 'n.txt', fileType: 'text/plain', totalSize: 1, grantedAt: a.clock.now(),
  });
}

test('dropped grants count toward the per-creator bound until they are old enough to purge', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const db = b!.cell.home.db;
  const grant = () => randomGrant(a!, b!);
  // What MAX share-unshare cycles leave behind.
  const ins = db.prepare(`INSERT INTO received_grants(manifest_hash, creator, grant_json, filename, file_type, total_size, granted_at, received_at, dropped_at, indexed)
    VALUES (?, ?, '{}', 'n.txt', 'text/plain', 1, ?, ?, ?, 0)`);
  const now = b!.clock.now();
  db.transaction(() => {
    for (let i = 0; i < MAX_GRANTS_PER_CREATOR; i++) ins.run(randomBytes(32).toString('hex'), a!.id, now - 1000, now, now);
  })();
  await assert.rejects(a!.cell.call(b!.id, 'POST', '/api/receive-grant', { json: grant() }), status(507));
  // Once old enough that the age check refuses their replay, they are purged.
  db.prepare('UPDATE received_grants SET granted_at = ? WHERE creator = ?').run(now - MAX_GRANT_AGE_MS - 1000, a!.id);
  const ok = await a!.cell.call(b!.id, 'POST', '/api/receive-grant', { json: grant() });
  assert.deepEqual(ok.data, { accepted: true });
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM received_grants').get() as { n: number }).n, 1);
});

test('every chat message is charged for its row, so tiny messages are bounded too', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  b!.cell.home.db.prepare('INSERT INTO meta(key, value) VALUES (?, ?)').run(`chat_in_bytes:${a!.id}`, String(MAX_INBOX_BYTES_PER_PEER - 10));
  const env = sealMessage({
    identity: a!.cell.home.keys.identity, fromId: a!.id, toId: b!.id,
    recipientX25519Raw: b!.cell.home.keys.x25519.publicRaw, text: 'k', sentAt: a!.clock.now(), seq: 1,
  });
  await assert.rejects(a!.cell.call(b!.id, 'POST', '/api/chat', { json: env }), status(507));
});

test('an inventory that claims more without moving forward stops the paging at once', async (t) => {
  const [a, b] = await startCells(t, 2);
  const peer = b!.id; // a real cell ID; the client below stands in for it
  let calls = 0;
  const client = {
    call: async () => {
      calls++;
      return { status: 200, data: { items: [{ hash: '../../etc/passwd', owner: a!.id, present: true }, null], next: 0, more: true }, latencyMs: 1, bytesReceived: 10, bytesSent: 0 };
    },
  } as unknown as PeerClient;
  const s = await runRound({
    selfId: a!.id, db: a!.cell.home.db, objects: a!.cell.home.objects, client, clock: a!.clock.now, log: pino({ level: 'silent' }),
    factor: 2, offlineGraceMs: 1000,
    listPeers: () => [{ id: peer, name: 'evil', preferred: false }],
    benchmarkDue: async () => {},
    probe: async () => ({ reachable: true, url: 'http://127.0.0.1:1', score: 1 }),
    lastSeen: () => a!.clock.now(),
  });
  assert.equal(calls, 1);
  assert.ok(s.errors.some((e) => e.step === 'inventory' && /malformed inventory/.test(e.error)), JSON.stringify(s.errors));
  assert.equal((a!.cell.home.db.prepare('SELECT COUNT(*) AS n FROM placements').get() as { n: number }).n, 0);
});

test('a peer sending back one of our missing objects cannot become its owner here (and release it)', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const dir = await mkdtemp(join(tmpdir(), 'grove-hard-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const pool = new SealPool({ workers: 1 });
  t.after(() => pool.close());
  const p = join(dir, 'mine.bin');
  await writeFile(p, randomBytes(5000));
  const f = await addFile({ home: a!.cell.home, pool, now: a!.clock.now }, p);
  const db = a!.cell.home.db;
  const chunk = (db.prepare('SELECT hash FROM file_chunks WHERE manifest_hash = ?').get(f.manifest_hash) as { hash: string }).hash;
  const bytes = await a!.cell.home.objects.get(chunk);
  // Our copy is lost (as after a disk fault, or on a machine rebuilt by restore).
  db.transaction(() => recordRemoved(db, chunk))();
  await a!.cell.home.objects.remove(chunk);
  const r = await b!.cell.call(a!.id, 'PUT', `/api/objects/${chunk}?kind=index`, { body: bytes });
  assert.equal(r.status, 200);
  const row = getObject(db, chunk)!;
  assert.equal(row.owner, a!.id, 'still ours');
  assert.equal(row.kind, 'chunk');
  // b holds no reference to it here: its release changes nothing (it is told so: released for it).
  const rel = await b!.cell.call<{ released: string[]; refused: string[] }>(a!.id, 'POST', '/api/release', { json: { hashes: [chunk] } });
  assert.deepEqual(rel.data.released, [chunk]);
  assert.ok(a!.cell.home.objects.has(chunk));
  assert.equal(getObject(db, chunk)!.present, 1);
});

test('junk in a holder\'s inventory never grows the owner\'s placements, and one round reads a bounded amount', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  // b lies: its catalog claims 30 000 objects of a's that a never made.
  const junk = Array.from({ length: 30_000 }, () => ({ hash: sha(randomBytes(16)), size: 1, kind: 'chunk' as const, owner: a!.id }));
  b!.cell.home.db.transaction(() => recordObjects(b!.cell.home.db, junk, b!.clock.now()))();
  const s = await a!.cell.sync.service.runNow();
  assert.deepEqual(s.errors, []);
  const placements = a!.cell.home.db.prepare('SELECT COUNT(*) FROM placements').pluck().get() as number;
  assert.equal(placements, 0, 'no placement row for an object a does not own');
  // a owns nothing yet: one round reads at most two default pages (10 000 items), not 30 000.
  const seq = a!.cell.home.db.prepare('SELECT inventory_seq FROM peer_sync WHERE peer_id = ?').pluck().get(b!.id) as number;
  const maxSeq = b!.cell.home.db.prepare('SELECT MAX(seq) FROM objects').pluck().get() as number;
  assert.ok(seq < maxSeq, `the rest waits for later rounds (read up to ${seq} of ${maxSeq})`);
});

test('grants whose manifest never arrives are bounded per peer and expire', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const db = b!.cell.home.db;
  const grant = () => randomGrant(a!, b!);
  // MAX_PENDING - 1 promises already waiting (as if sent earlier), then one more over the wire.
  const ins = db.prepare(`INSERT INTO received_grants(manifest_hash, creator, grant_json, filename, file_type, total_size, granted_at, received_at, dropped_at, indexed)
    VALUES (?, ?, '{}', 'n.txt', 'text/plain', 1, ?, ?, NULL, 0)`);
  const now = b!.clock.now();
  db.transaction(() => {
    for (let i = 0; i < MAX_PENDING_GRANTS_PER_CREATOR - 1; i++) ins.run(randomBytes(32).toString('hex'), a!.id, now, now);
  })();
  assert.deepEqual((await a!.cell.call(b!.id, 'POST', '/api/receive-grant', { json: grant() })).data, { accepted: true });
  await assert.rejects(a!.cell.call(b!.id, 'POST', '/api/receive-grant', { json: grant() }), status(507));
  // A week later the unkept promises are gone, and new grants are welcome again.
  a!.clock.advance(PENDING_GRANT_TTL_MS + 1000);
  b!.clock.advance(PENDING_GRANT_TTL_MS + 1000);
  assert.deepEqual((await a!.cell.call(b!.id, 'POST', '/api/receive-grant', { json: grant() })).data, { accepted: true });
  assert.equal(db.prepare('SELECT COUNT(*) FROM received_grants WHERE creator = ?').pluck().get(a!.id), 1);
  assert.equal(db.prepare("SELECT COUNT(*) FROM grant_objects WHERE creator = ?").pluck().get(a!.id), 1, 'their pins went with them');
});
