import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCells, pairCells, rawSigned, tlsFetch, type TestCell } from '../helpers/cells.js';
import { createInvite, pairWithCode } from '../../src/peers/pairing.js';
import { decodeInvite, mintInvite } from '../../src/peers/invite.js';
import { makeCard } from '../../src/peers/identity.js';
import { peerView, probePeer } from '../../src/peers/probe.js';
import { GroveError } from '../../src/errors.js';
import { randomBytes } from 'node:crypto';

const isCode = (code: string) => (e: unknown) => e instanceof GroveError && e.code === code;

function snapshot(c: TestCell) {
  const db = c.cell.home.db;
  return {
    peers: db.prepare('SELECT * FROM peers ORDER BY id').all(),
    routes: db.prepare('SELECT * FROM routes ORDER BY peer_id, url').all(),
    used: db.prepare('SELECT * FROM used_invites ORDER BY token_id').all(),
  };
}

test('two cells pair and become mutual peers with each other\'s X25519 key', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const bOnA = a!.cell.peers.get(b!.id);
  const aOnB = b!.cell.peers.get(a!.id);
  assert.ok(bOnA && aOnB, 'both sides know each other');
  assert.equal(bOnA.name, 'beta');
  assert.equal(aOnB.name, 'alpha');
  assert.equal(bOnA.x25519, b!.cell.home.keys.x25519.publicRaw.toString('hex'));
  assert.equal(aOnB.x25519, a!.cell.home.keys.x25519.publicRaw.toString('hex'));
  assert.deepEqual(aOnB.routes.map((r) => r.url), [a!.url]);
  assert.deepEqual(bOnA.routes.map((r) => r.url), [b!.url]);
  // The joiner recorded the pairing round trip as a first probe: a best route already.
  assert.equal(peerView(b!.cell, aOnB).best_route, a!.url);
  // And both can now make signed peer calls.
  const r1 = await a!.cell.call<{ ok: boolean; id: string }>(b!.id, 'GET', '/api/health');
  assert.equal(r1.data.id, b!.id);
  const r2 = await b!.cell.call<{ ok: boolean; id: string }>(a!.id, 'GET', '/api/health');
  assert.equal(r2.data.id, a!.id);
  // The spent token is recorded on the inviter only.
  assert.equal(snapshot(a!).used.length, 1);
  assert.equal(snapshot(b!).used.length, 0);
});

test('three cells pair pairwise and each sees the other two', async (t) => {
  const [a, b, c] = await startCells(t, 3);
  await pairCells(a!, b!);
  await pairCells(a!, c!);
  await pairCells(c!, b!);
  for (const x of [a!, b!, c!]) {
    const others = [a!, b!, c!].filter((y) => y !== x);
    assert.deepEqual(x.cell.peers.list().map((p) => p.id).sort(), others.map((o) => o.id).sort(), `${x.name} knows both others`);
    for (const o of others) {
      const h = await probePeer(x.cell, o.id);
      assert.equal(h.online, true, `${x.name} reaches ${o.name}`);
    }
  }
});

test('a used invite code is refused and changes nothing', async (t) => {
  const [a, b, c] = await startCells(t, 3);
  const { code } = createInvite(a!.cell);
  await pairWithCode(b!.cell, code);
  const beforeA = snapshot(a!);
  const beforeC = snapshot(c!);
  await assert.rejects(pairWithCode(c!.cell, code), (e: unknown) => isCode('FORBIDDEN')(e) && /already used/.test((e as Error).message));
  assert.deepEqual(snapshot(a!), beforeA);
  assert.deepEqual(snapshot(c!), beforeC);
  // The same joiner reusing it is refused too.
  await assert.rejects(pairWithCode(b!.cell, code), isCode('FORBIDDEN'));
});

test('an expired invite code is refused by the joiner and by the inviter, changing nothing', async (t) => {
  const [a, b] = await startCells(t, 2);
  const { code } = createInvite(a!.cell);
  // Both clocks move past the TTL (24 h by default): the joiner refuses locally.
  a!.clock.advance(24 * 3600_000 + 1000);
  b!.clock.advance(24 * 3600_000 + 1000);
  await assert.rejects(pairWithCode(b!.cell, code), (e: unknown) => isCode('FORBIDDEN')(e) && /expired/.test((e as Error).message));
  // A joiner that skips its own check is refused by the inviter, who checks the MACed expiry.
  const before = snapshot(a!);
  const body = Buffer.from(JSON.stringify({ token: decodeInvite(code).token, card: b!.cell.card(), routes: [b!.url] }));
  const { res } = await rawSigned(b!, a!, 'POST', '/api/pair', { body, contentType: 'application/json' });
  assert.equal(res.status, 403);
  assert.match(((await res.json()) as { message: string }).message, /expired/);
  assert.deepEqual(snapshot(a!), before);
  assert.equal(b!.cell.peers.count(), 0);
});

test('forged invite tokens are refused and change nothing', async (t) => {
  const [a, b] = await startCells(t, 2);
  const before = snapshot(a!);
  const send = async (token: string) => {
    const body = Buffer.from(JSON.stringify({ token, card: b!.cell.card(), routes: [b!.url] }));
    const { res } = await rawSigned(b!, a!, 'POST', '/api/pair', { body, contentType: 'application/json' });
    return res;
  };
  // Minted with another secret (an attacker's own), claiming to be A's.
  const forged = mintInvite(randomBytes(32), { id: a!.id, name: 'alpha', routes: [a!.url], ttlS: 3600, nowMs: a!.clock.now() });
  await assert.rejects(pairWithCode(b!.cell, forged.code), isCode('FORBIDDEN'));
  // A real token with its expiry pushed out (the MAC no longer matches).
  const real = decodeInvite(createInvite(a!.cell).code).token;
  const raw = Buffer.from(real, 'base64url');
  raw[16 + 7]! ^= 0x01;
  assert.equal((await send(raw.toString('base64url'))).status, 403);
  // Garbage and missing tokens.
  assert.equal((await send('x'.repeat(75))).status, 403);
  assert.equal((await send('')).status, 403);
  assert.deepEqual(snapshot(a!), before);
  assert.equal(b!.cell.peers.count(), 0);
  // The untouched real token still works afterwards.
  const res = await send(real);
  assert.equal(res.status, 200);
});

test('pairing refuses a card that another cell signed, or a caller that is not the card\'s cell', async (t) => {
  const [a, b, c] = await startCells(t, 3);
  const before = snapshot(a!);
  const token = decodeInvite(createInvite(a!.cell).code).token;
  // B presents C's (valid, signed) card: the request is signed by B, the card names C.
  const body = Buffer.from(JSON.stringify({ token, card: c!.cell.card(), routes: [b!.url] }));
  const r1 = await rawSigned(b!, a!, 'POST', '/api/pair', { body, contentType: 'application/json' });
  assert.equal(r1.res.status, 401);
  // B's card with a swapped X25519 key: the signature no longer covers it.
  const card = { ...b!.cell.card(), x25519: c!.cell.home.keys.x25519.publicRaw.toString('hex') };
  const r2 = await rawSigned(b!, a!, 'POST', '/api/pair', { body: Buffer.from(JSON.stringify({ token, card, routes: [] })), contentType: 'application/json' });
  assert.equal(r2.res.status, 401);
  // No signature at all (pairing needs the joiner to prove its key).
  const r3 = await tlsFetch(new URL('/api/pair', a!.url), { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(r3.status, 401);
  // Malformed JSON: 400 with a JSON error.
  const r4 = await rawSigned(b!, a!, 'POST', '/api/pair', { body: Buffer.from('{"token": '), contentType: 'application/json' });
  assert.equal(r4.res.status, 400);
  assert.equal(((await r4.res.json()) as { error: string }).error, 'BAD_INPUT');
  assert.deepEqual(snapshot(a!), before, 'nothing changed, the token is not spent');
  // A card made by B itself is fine with that same token.
  const ok = await rawSigned(b!, a!, 'POST', '/api/pair', { body: Buffer.from(JSON.stringify({ token, card: makeCard(b!.cell.home.keys, { name: 'beta', build: 'x' }), routes: [b!.url] })), contentType: 'application/json' });
  assert.equal(ok.res.status, 200);
});

test('the joiner accepts only an answer signed by the cell named in the code', async (t) => {
  const [a, b, c] = await startCells(t, 3);
  // A code naming A whose only route leads to C: C answers (signed by C), B refuses it.
  const code = Buffer.from(JSON.stringify({ ...decodeInvite(createInvite(a!.cell).code), routes: [c!.url] })).toString('base64url');
  await assert.rejects(pairWithCode(b!.cell, code), isCode('UNREACHABLE'));
  assert.equal(b!.cell.peers.count(), 0);
  assert.equal(c!.cell.peers.count(), 0);
  // With A's real route after the wrong one, pairing goes through on the right cell.
  const code2 = Buffer.from(JSON.stringify({ ...decodeInvite(createInvite(a!.cell).code), routes: [c!.url, a!.url] })).toString('base64url');
  const p = await pairWithCode(b!.cell, code2);
  assert.equal(p.id, a!.id);
  assert.ok(a!.cell.peers.isKnown(b!.id));
});

test('routes can be added and removed; PEER arguments resolve by ID, prefix or name', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const reg = a!.cell.peers;
  assert.equal(reg.resolve('beta').id, b!.id);
  assert.equal(reg.resolve(b!.id.slice(0, 6)).id, b!.id);
  assert.equal(reg.resolve(b!.id).id, b!.id);
  assert.throws(() => reg.resolve('nobody'), isCode('NOT_FOUND'));
  assert.equal(reg.addRoute(b!.id, 'http://127.0.0.1:1/'), true);
  assert.equal(reg.addRoute(b!.id, 'http://127.0.0.1:1'), false);
  assert.deepEqual(reg.get(b!.id)!.routes.map((r) => r.url).sort(), [b!.url, 'https://127.0.0.1:1'].sort());
  // A dead route does not stop calls: the best route is tried first, others on failure.
  await probePeer(a!.cell, b!.id);
  const r = await a!.cell.call(b!.id, 'GET', '/api/health');
  assert.equal(r.route, b!.url);
  assert.equal(reg.removeRoute(b!.id, 'http://127.0.0.1:1'), true);
  assert.equal(reg.removeRoute(b!.id, 'http://127.0.0.1:1'), false);
  assert.throws(() => reg.addRoute(b!.id, 'ftp://x'), isCode('BAD_INPUT'));
  assert.throws(() => reg.addRoute(b!.id, 'http://x:1/some/path'), isCode('BAD_INPUT'));
});
