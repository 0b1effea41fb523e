import { test } from 'node:test';
import { get as httpsGet } from 'node:https';
import assert from 'node:assert/strict';
import { generateEd25519, cellIdFromPublic } from '../crypto/keys.js';
import { createPeerServer, type NonceStore } from './server.js';
import { PeerClient } from './client.js';
import { GroveError } from '../errors.js';
import { makeTlsIdentity } from '../tls/certificate.js';

function memNonces(): NonceStore {
  const seen = new Set<string>();
  return { remember: (c, n) => (seen.has(c + n) ? false : (seen.add(c + n), true)) };
}

/** Status of an unsigned GET over TLS, without checking the certificate. */
function statusOf(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { rejectUnauthorized: false, agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); }).on('error', reject);
  });
}

async function pair() {
  const a = generateEd25519();
  const b = generateEd25519();
  const aId = cellIdFromPublic(a.publicRaw);
  const bId = cellIdFromPublic(b.publicRaw);
  const known = new Set([aId]);
  const app = createPeerServer({ selfId: bId, identity: b.privateKey, clock: Date.now, isKnownPeer: (id) => known.has(id), nonces: memNonces(), tls: () => makeTlsIdentity(b.privateKey, b.publicKey) });
  app.get('/api/echo', async (req) => ({ peer: req.peer, q: req.query }));
  app.post('/api/echo', async (req) => ({ got: req.body }));
  app.get('/api/open', { config: { auth: 'none' } }, async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.server.address() as { port: number };
  const url = `https://127.0.0.1:${addr.port}`;
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
  // A peer that read the request before answering: its body was handed over in full (a
  // sender may reuse the buffer it sent).
  assert.equal(p.bodySent, true);
});

test('a route whose certificate is another cell\'s is refused before any request is sent', async (t) => {
  const { app, url, client, bId } = await pair();
  t.after(() => app.close());
  let requests = 0;
  app.server.on('request', () => { requests++; });
  const other = cellIdFromPublic(generateEd25519().publicRaw);
  await assert.rejects(client.call(url, other, 'GET', '/api/open'), (e: GroveError) => e.code === 'WRONG_IDENTITY' && /another cell/.test(e.message));
  assert.equal(requests, 0);
  // A legacy http:// route is the same endpoint over TLS, never plaintext.
  const legacy = await client.call<{ ok: boolean }>(url.replace('https:', 'http:'), bId, 'GET', '/api/open');
  assert.equal(legacy.data.ok, true);
  client.close();
});

test('unknown cells get 403, unsigned requests 401', async (t) => {
  const { app, url, bId } = await pair();
  t.after(() => app.close());
  const stranger = generateEd25519();
  const sc = new PeerClient({ selfId: cellIdFromPublic(stranger.publicRaw), identity: stranger.privateKey, clock: Date.now });
  await assert.rejects(sc.call(url, bId, 'GET', '/api/echo'), (e: GroveError) => e.detail?.status === 403);
  assert.equal(await statusOf(`${url}/api/echo`), 401);
  assert.equal(await statusOf(`${url}/api/open`), 200);
});
