import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createHash } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCells, pairCells, restartCell, stopCell, waitFor, type TestCell } from '../helpers/cells.js';
import { scratch, syncRound } from './share-helpers.js';
import { createGrant, unwrapFileKey, MAX_GRANT_JSON_BYTES, type ShareGrant } from '../../src/formats/grant.js';
import { fileKey } from '../../src/crypto/kdf.js';
import { signObject } from '../../src/crypto/sign.js';
import { feedItems, findHeldGrant, isPinned } from '../../src/share/received.js';
import { restoreShared } from '../../src/share/get.js';
import { probePeer } from '../../src/peers/probe.js';
import { chunksOf } from '../../src/ingest/files.js';
import { getObject, recordRemoved } from '../../src/store/catalog.js';
import { GroveError } from '../../src/errors.js';

// Sharing with signed grants between real cells on loopback (seed "Sharing Flow").

const status = (code: number) => (e: unknown) => e instanceof GroveError && e.code === 'PEER_ERROR' && e.detail?.status === code;

function received(c: TestCell) {
  const db = c.cell.home.db;
  return {
    grants: db.prepare('SELECT * FROM received_grants ORDER BY manifest_hash, creator').all(),
    pins: db.prepare('SELECT * FROM grant_objects ORDER BY manifest_hash, creator, idx').all(),
  };
}

function sentGrant(a: TestCell, manifest: string, recipient: string): ShareGrant {
  const row = a.cell.home.db.prepare('SELECT grant_json FROM sent_grants WHERE manifest_hash = ? AND recipient = ?').get(manifest, recipient) as { grant_json: string };
  return JSON.parse(row.grant_json) as ShareGrant;
}

/** A valid grant from `from` to `to` for a made-up manifest (only the format and keys matter to the endpoint). */
function grantFor(from: TestCell, to: TestCell, over: Partial<{ grantedAt: number; x25519: Buffer; manifest: string }> = {}): ShareGrant {
  const k = from.cell.home.keys;
  return createGrant({
    identity: k.identity, creatorId: from.id, recipientId: to.id,
    recipientX25519Raw: over.x25519 ?? to.cell.home.keys.x25519.publicRaw,
    manifestHash: over.manifest ?? randomBytes(32).toString('hex'), fileKey: randomBytes(32),
    filename: 'notes.txt', fileType: 'text/plain', totalSize: 1234, grantedAt: over.grantedAt ?? from.clock.now(),
  });
}

async function outDir(t: import('node:test').TestContext): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'grove-share-out-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

test('A shares with B: B\'s feed lists it, B holds the objects as A\'s, and get on B is byte-identical', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const s = await scratch(t);
  const bytes = randomBytes(9 * 1024 * 1024 + 123); // three chunks
  const added = await s.add(a!, 'report.pdf', bytes);

  const r = await a!.cell.sharing.share('report.pdf', ['beta']);
  assert.deepEqual(r.grants.map((g) => [g.recipient, g.manifest_hash, g.delivered]), [[b!.id, added.manifest_hash, true]]);

  const feed = feedItems(b!.cell.home);
  assert.equal(feed.length, 1);
  assert.deepEqual({ ...feed[0]!, granted_at: 0 }, {
    from: a!.id, from_name: 'alpha', filename: 'report.pdf', file_type: 'application/pdf', total_size: bytes.length,
    granted_at: 0, manifest_hash: added.manifest_hash, available: true,
  });
  // Pushed with the holder endpoint: recorded at B with owner = the sharer.
  for (const h of [added.manifest_hash, ...chunksOf(a!.cell.home.db, added.manifest_hash).map((c) => c.hash)]) {
    assert.equal(getObject(b!.cell.home.db, h)?.owner, a!.id);
    assert.equal(isPinned(b!.cell.home, h), true, 'a held grant pins its objects');
  }

  const out = join(await outDir(t), 'copy.pdf');
  const held = findHeldGrant(b!.cell.home.db, 'report.pdf');
  assert.ok(held);
  await restoreShared(b!.cell, held, out);
  assert.ok((await readFile(out)).equals(bytes), 'byte-identical');
});

test('get on B fetches objects it lacks from the sharer', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const s = await scratch(t);
  const bytes = randomBytes(5 * 1024 * 1024);
  const added = await s.add(a!, 'video.mp4', bytes);
  await a!.cell.sharing.share('video.mp4', [b!.id]);
  // B loses a chunk: the Feed says so, and get heals it from A.
  const lost = chunksOf(a!.cell.home.db, added.manifest_hash)[1]!.hash;
  await b!.cell.home.objects.remove(lost);
  b!.cell.home.db.transaction(() => recordRemoved(b!.cell.home.db, lost))();
  assert.equal(feedItems(b!.cell.home)[0]!.available, false);
  const out = join(await outDir(t), 'v.mp4');
  await restoreShared(b!.cell, findHeldGrant(b!.cell.home.db, added.manifest_hash)!, out);
  assert.ok((await readFile(out)).equals(bytes));
  assert.equal(feedItems(b!.cell.home)[0]!.available, true);
  assert.equal(getObject(b!.cell.home.db, lost)?.owner, a!.id);
});

test('C, paired but not a recipient, cannot unwrap the grant, and C refuses a grant addressed to B', async (t) => {
  const [a, b, c] = await startCells(t, 3);
  await pairCells(a!, b!);
  await pairCells(a!, c!);
  await pairCells(c!, b!);
  const s = await scratch(t);
  const added = await s.add(a!, 'secret.txt', Buffer.from('the launch codes'));
  await a!.cell.sharing.share('secret.txt', ['beta']);
  const grant = sentGrant(a!, added.manifest_hash, b!.id);

  const cx = c!.cell.home.keys.x25519;
  assert.throws(() => unwrapFileKey(grant, cx.privateKey, cx.publicRaw), (e: unknown) => e instanceof GroveError && e.code === 'CORRUPT');
  const bx = b!.cell.home.keys.x25519;
  assert.ok(unwrapFileKey(grant, bx.privateKey, bx.publicRaw).equals(fileKey(a!.cell.home.keys.master, Buffer.from(added.file_hash, 'hex'))));

  // A sends B's grant to C: addressed to another cell. C forwards it to B: not its creator.
  await assert.rejects(a!.cell.call(c!.id, 'POST', '/api/receive-grant', { json: grant }), status(403));
  await assert.rejects(c!.cell.call(b!.id, 'POST', '/api/receive-grant', { json: grant }), status(403));
  assert.deepEqual(received(c!).grants, []);
  assert.equal(feedItems(c!.cell.home).length, 0);
  // C cannot take the grant out of B's hands either.
  await assert.rejects(c!.cell.call(b!.id, 'POST', '/api/unshare', { json: { manifest_hash: added.manifest_hash } }), status(404));
  assert.equal(feedItems(b!.cell.home).length, 1);
});

test('a grant altered in any field, signed by the wrong key, addressed elsewhere or implausible is refused and stored nowhere', async (t) => {
  const [a, b, c] = await startCells(t, 3);
  await pairCells(a!, b!);
  await pairCells(a!, c!);
  const good = grantFor(a!, b!);
  const flipB64 = (v: string) => {
    const raw = Buffer.from(v, 'base64');
    raw[raw.length - 1]! ^= 1;
    return raw.toString('base64');
  };
  const flipHex = (v: string) => (v[0] === 'a' ? 'b' : 'a') + v.slice(1);
  const altered: [string, ShareGrant][] = [
    ['manifest_hash', { ...good, manifest_hash: flipHex(good.manifest_hash) }],
    ['encrypted_file_key', { ...good, encrypted_file_key: flipB64(good.encrypted_file_key) }],
    ['creator_pubkey', { ...good, creator_pubkey: c!.id }],
    ['recipient_pubkey', { ...good, recipient_pubkey: c!.id }],
    ['signature', { ...good, signature: flipB64(good.signature) }],
    ['granted_at', { ...good, granted_at: good.granted_at - 1 }],
    ['filename', { ...good, filename: 'notes.exe' }],
    ['file_type', { ...good, file_type: 'application/x-msdownload' }],
    ['total_size', { ...good, total_size: good.total_size + 1 }],
  ];
  const { signature: _sig, ...body } = good;
  const refusals: [string, unknown, number][] = [
    ...altered.map(([f, g]): [string, unknown, number] => [`altered ${f}`, g, f === 'recipient_pubkey' ? 403 : 401]),
    ['signed by another key', signObject(c!.cell.home.keys.identity.privateKey, body), 401],
    ['created by another cell', grantFor(c!, b!), 403],
    ['addressed to another cell', grantFor(a!, c!), 403],
    ['wrapped to another X25519 key', grantFor(a!, b!, { x25519: c!.cell.home.keys.x25519.publicRaw }), 400],
    ['granted in the future', grantFor(a!, b!, { grantedAt: a!.clock.now() + 3600_000 }), 400],
    ['granted long ago', grantFor(a!, b!, { grantedAt: a!.clock.now() - 400 * 24 * 3600_000 }), 400],
    ['an extra field', { ...good, note: 'hi' }, 400],
    ['a missing field', body, 400],
    ['not an object', [good], 400],
  ];
  for (const [what, g, code] of refusals) {
    await assert.rejects(a!.cell.call(b!.id, 'POST', '/api/receive-grant', { json: g }), status(code), what);
  }
  await assert.rejects(a!.cell.call(b!.id, 'POST', '/api/receive-grant', { json: { ...good, filename: 'x'.repeat(MAX_GRANT_JSON_BYTES) } }), status(413));
  assert.deepEqual(received(b!), { grants: [], pins: [] });
  // The untouched grant is accepted.
  const ok = await a!.cell.call<{ accepted: boolean }>(b!.id, 'POST', '/api/receive-grant', { json: good });
  assert.deepEqual(ok.data, { accepted: true });
});

test('a replayed grant changes nothing, before and after it was dropped', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const g = grantFor(a!, b!);
  const first = await a!.cell.call(b!.id, 'POST', '/api/receive-grant', { json: g });
  assert.deepEqual(first.data, { accepted: true });
  const before = received(b!);
  const again = await a!.cell.call(b!.id, 'POST', '/api/receive-grant', { json: g });
  assert.deepEqual(again.data, { accepted: false, duplicate: true });
  assert.deepEqual(received(b!), before);

  await a!.cell.call(b!.id, 'POST', '/api/unshare', { json: { manifest_hash: g.manifest_hash } });
  assert.equal(feedItems(b!.cell.home).length, 0);
  const dropped = received(b!);
  const replay = await a!.cell.call(b!.id, 'POST', '/api/receive-grant', { json: g });
  assert.deepEqual(replay.data, { accepted: false, duplicate: true });
  assert.deepEqual(received(b!), dropped);
  assert.equal(feedItems(b!.cell.home).length, 0);
  // Only a newer grant shares it again.
  a!.clock.advance(1000);
  const fresh = await a!.cell.call(b!.id, 'POST', '/api/receive-grant', { json: grantFor(a!, b!, { manifest: g.manifest_hash }) });
  assert.deepEqual(fresh.data, { accepted: true });
  assert.equal(feedItems(b!.cell.home).length, 1);
});

test('sharing with an offline B is delivered by the next sync round that reaches it', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const s = await scratch(t);
  const bytes = randomBytes(300_000);
  const added = await s.add(a!, 'photo.jpg', bytes);
  await stopCell(b!);
  const r = await a!.cell.sharing.share('photo.jpg', ['beta']);
  assert.deepEqual(r.grants.map((g) => [g.delivered, g.error]), [[false, undefined]]);
  assert.equal(a!.cell.sharing.hasPending(b!.id), true);
  const offline = await syncRound(a!);
  assert.equal(offline.peers_reached, 0);

  await restartCell(b!);
  const round = await syncRound(a!);
  assert.equal(round.peers_reached, 1);
  assert.deepEqual(round.errors, []);
  assert.equal(a!.cell.sharing.hasPending(b!.id), false);
  const feed = feedItems(b!.cell.home);
  assert.deepEqual(feed.map((i) => [i.filename, i.manifest_hash, i.available]), [['photo.jpg', added.manifest_hash, true]]);
  const out = join(await outDir(t), 'p.jpg');
  await restoreShared(b!.cell, findHeldGrant(b!.cell.home.db, 'photo.jpg')!, out);
  assert.ok((await readFile(out)).equals(bytes));
  // Delivered exactly once: another round sends nothing more.
  const idle = await syncRound(a!);
  assert.deepEqual(idle.errors, []);
  assert.equal(received(b!).grants.length, 1);
});

test('a share waiting for an offline B goes out as soon as the daemon sees B online', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const s = await scratch(t);
  await s.add(a!, 'song.mp3', randomBytes(1000));
  await stopCell(b!);
  await a!.cell.sharing.share('song.mp3', ['beta']);
  await restartCell(b!);
  await probePeer(a!.cell, b!.id); // what the probe loop does every minute
  await waitFor(() => feedItems(b!.cell.home)[0]?.available, 'the share to arrive at B');
  await waitFor(() => !a!.cell.sharing.hasPending(b!.id), 'A to record the delivery');
});

test('a share follows newer versions until unshare; unshare drops the grant at B and unpins it', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const s = await scratch(t);
  const v1 = await s.add(a!, 'plan.md', Buffer.from('version one'));
  await a!.cell.sharing.share('plan.md', ['beta']);
  a!.clock.advance(10);
  const v2 = await s.add(a!, 'plan.md', Buffer.from('version two'));
  assert.equal(a!.cell.sharing.hasPending(b!.id), true, 'the new version is owed to B');
  const d = await a!.cell.sharing.deliver(b!.id);
  assert.deepEqual(d.delivered, [v2.manifest_hash]);
  assert.deepEqual(feedItems(b!.cell.home).map((i) => i.manifest_hash).sort(), [v1.manifest_hash, v2.manifest_hash].sort());

  const u = await a!.cell.sharing.unshare('plan.md', 'beta');
  assert.deepEqual(u.revoked.map((x) => x.notified), [true, true]);
  assert.deepEqual(feedItems(b!.cell.home), []);
  assert.deepEqual(received(b!).pins, []);
  assert.equal(isPinned(b!.cell.home, v2.manifest_hash), false);
  // The bytes B already received stay (they cannot be recalled), now unpinned.
  assert.equal(b!.cell.home.objects.has(v2.manifest_hash), true);

  a!.clock.advance(10);
  await s.add(a!, 'plan.md', Buffer.from('version three'));
  assert.equal(a!.cell.sharing.hasPending(b!.id), false, 'no newer version after unshare');
  await assert.rejects(a!.cell.sharing.unshare('plan.md', 'beta'), (e: unknown) => e instanceof GroveError && e.code === 'NOT_FOUND');
});

test('an unshare while B is offline reaches B at the next contact', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const s = await scratch(t);
  await s.add(a!, 'list.txt', Buffer.from('milk, eggs'));
  await a!.cell.sharing.share('list.txt', ['beta']);
  await stopCell(b!);
  const u = await a!.cell.sharing.unshare('list.txt', 'beta');
  assert.deepEqual(u.revoked.map((x) => x.notified), [false]);
  await restartCell(b!);
  assert.equal(feedItems(b!.cell.home).length, 1);
  await syncRound(a!);
  assert.deepEqual(feedItems(b!.cell.home), []);
  assert.equal(a!.cell.sharing.hasPending(b!.id), false);
});

test('the holder refuses to release objects a grant it holds needs, even to their owner', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const s = await scratch(t);
  const added = await s.add(a!, 'keep.bin', randomBytes(5000));
  await a!.cell.sharing.share('keep.bin', ['beta']);
  const bh = b!.cell.home;
  const hashes = [added.manifest_hash, ...chunksOf(a!.cell.home.db, added.manifest_hash).map((c) => c.hash)];
  const r1 = await a!.cell.call<{ released: string[]; refused: string[] }>(b!.id, 'POST', '/api/release', { json: { hashes } });
  assert.deepEqual(r1.data, { released: [], refused: hashes });
  assert.ok(hashes.every((h) => bh.objects.has(h)));
  // After unshare the owner may release them.
  await a!.cell.sharing.unshare('keep.bin', 'beta');
  const r2 = await a!.cell.call<{ released: string[]; refused: string[] }>(b!.id, 'POST', '/api/release', { json: { hashes } });
  assert.deepEqual(r2.data, { released: hashes, refused: [] });
});

test('a grant cannot pin an object its creator does not own here', async (t) => {
  const [a, b, c] = await startCells(t, 3);
  await pairCells(a!, b!);
  await pairCells(c!, b!);
  const data = randomBytes(1000);
  const hash = createHash('sha256').update(data).digest('hex');
  await c!.cell.call(b!.id, 'PUT', `/api/objects/${hash}?kind=chunk`, { body: data });
  assert.equal(getObject(b!.cell.home.db, hash)?.owner, c!.id);
  // A names C's object as the manifest of a grant to B.
  const g = grantFor(a!, b!, { manifest: hash });
  assert.deepEqual((await a!.cell.call(b!.id, 'POST', '/api/receive-grant', { json: g })).data, { accepted: true });
  assert.equal(isPinned(b!.cell.home, hash), false);
  const r = await c!.cell.call<{ released: string[] }>(b!.id, 'POST', '/api/release', { json: { hashes: [hash] } });
  assert.deepEqual(r.data.released, [hash]);
});
