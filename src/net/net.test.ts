import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateEd25519, cellIdFromPublic } from '../crypto/keys.js';
import { createPeerServer, type NonceStore } from './server.js';
import { PeerClient } from './client.js';
import { GroveError } from '../errors.js';

function memNonces(): NonceStore {
  const seen = new Set<string>();
  return { remember: (c, n) => (seen.has(c + n) ? false : (seen.add(c + n), true)) };
}

async function pair() {
  const a = generateEd25519();
  const b = generateEd25519();
  const aId = cellIdFromPublic(a.publicRaw);
  const bId = cellIdFromPublic(b.publicRaw);
  const known = new Set([aId]);
  const app = createPeerServer({ selfId: bId, identity: b.privateKey, clock: Date.now, isKnownPeer: (id) => known.has(id), nonces: memNonces() });
  app.get('/api/echo', async (req) => ({ peer: req.peer, q: req.query }));
  app.post('/api/echo', async (req) => ({ got: req.body }));
  app.get('/api/open', { config: { auth: 'none' } }, async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address() as { port: number };
  const url = `http://127.0.0.1:${addr.port}`;
  const client = new PeerClient({ selfId: aId, identity: a.privateKey, clock: Date.now });
  return { app, url, client, aId, bId, known };
}

test('signed request and response round trip', async (t) => {
  const { app, url, client, aId, bId } = await pair();
  t.after(() => app.close());
  const r = await client.call<{ peer: string; q: unknown }>(url, bId, 'GET', '/api/echo?x=1');
  assert.equal(r.data.peer, aId);
  assert.deepEqual(r.data.q, { x: '1' });
  const p = await client.call<{ got: unknown }>(url, bId, 'POST', '/api/echo', { json: { hello: 'world' } });
  assert.deepEqual(p.data.got, { hello: 'world' });
});

test('a response from another cell than the one meant is refused', async (t) => {
  const { app, url, client } = await pair();
  t.after(() => app.close());
  const other = cellIdFromPublic(generateEd25519().publicRaw);
  await assert.rejects(client.call(url, other, 'GET', '/api/open'), (e: GroveError) => e.code === 'PEER_ERROR');
});

test('unknown cells get 403, unsigned requests 401', async (t) => {
  const { app, url, bId } = await pair();
  t.after(() => app.close());
  const stranger = generateEd25519();
  const sc = new PeerClient({ selfId: cellIdFromPublic(stranger.publicRaw), identity: stranger.privateKey, clock: Date.now });
  await assert.rejects(sc.call(url, bId, 'GET', '/api/echo'), (e: GroveError) => e.detail?.status === 403);
  const res = await fetch(`${url}/api/echo`);
  assert.equal(res.status, 401);
  const open = await fetch(`${url}/api/open`);
  assert.equal(open.status, 200);
});
