import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { makeTlsIdentity } from '../../src/tls/certificate.js';
import type { AddressInfo } from 'node:net';
import { startCells, pairCells, rawSigned, replay, restartCell, stopCell, tlsFetch, type TestCell } from '../helpers/cells.js';
import { verifyCard } from '../../src/peers/identity.js';
import { H, MAX_SKEW_MS } from '../../src/net/signing.js';
import { GroveError } from '../../src/errors.js';

// docs/design.md §3 rejection cases, end to end between real cells.

const isCode = (code: string) => (e: unknown) => e instanceof GroveError && e.code === code;

async function errorOf(res: Response): Promise<{ status: number; error: string }> {
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  const body = (await res.json()) as { error: string };
  return { status: res.status, error: body.error };
}

async function paired(t: import('node:test').TestContext, n = 2): Promise<TestCell[]> {
  const cells = await startCells(t, n);
  await pairCells(cells[0]!, cells[1]!);
  return cells;
}

test('a signed request from a paired cell is accepted and its response verified', async (t) => {
  const [a, b] = await paired(t);
  const { res } = await rawSigned(a!, b!, 'GET', '/api/health');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get(H.from), b!.id);
  assert.equal(res.headers.get(H.to), a!.id);
});

test('an unknown cell gets 403; pairing makes it known', async (t) => {
  const [a, b, stranger] = await paired(t, 3);
  assert.deepEqual(await errorOf((await rawSigned(stranger!, a!, 'GET', '/api/health')).res), { status: 403, error: 'FORBIDDEN' });
  await assert.rejects(stranger!.cell.client.call(a!.url, a!.id, 'GET', '/api/inventory'), (e: unknown) => isCode('PEER_ERROR')(e) && (e as GroveError).detail?.status === 403);
  await pairCells(a!, stranger!);
  assert.equal((await rawSigned(stranger!, a!, 'GET', '/api/health')).res.status, 200);
  assert.ok(b);
});

test('missing or bad signatures get 401', async (t) => {
  const [a, b] = await paired(t);
  // No signature headers at all.
  assert.deepEqual(await errorOf(await tlsFetch(new URL('/api/health', b!.url))), { status: 401, error: 'UNAUTHENTICATED' });
  // Signed for another path than requested.
  assert.equal((await rawSigned(a!, b!, 'GET', '/api/inventory?since=0', { signedPath: '/api/health' })).res.status, 401);
  // A signature byte flipped.
  const { headers } = await rawSigned(a!, b!, 'GET', '/api/health');
  const sig = Buffer.from(headers[H.sig]!, 'base64');
  sig[0]! ^= 0x80;
  assert.equal((await replay(b!, 'GET', '/api/health', { ...headers, [H.sig]: sig.toString('base64') })).status, 401);
  // Claiming to be another cell than the signer (here B itself): the signature does not verify.
  assert.equal((await rawSigned(a!, b!, 'GET', '/api/health', { headers: { [H.from]: b!.id } })).res.status, 401);
  // Addressed to another cell.
  assert.equal((await rawSigned(a!, b!, 'GET', '/api/health', { headers: { [H.to]: a!.id } })).res.status, 401);
  // A body that does not match its signed hash.
  const body = Buffer.from(JSON.stringify({ x: 1 }));
  const r = await rawSigned(a!, b!, 'POST', '/api/pair', { body, contentType: 'application/json', bodySha256: 'a'.repeat(64) });
  assert.equal(r.res.status, 401);
});

test('timestamps more than 5 minutes off get 401, within the window pass', async (t) => {
  const [a, b] = await paired(t);
  const now = a!.clock.now();
  assert.equal((await rawSigned(a!, b!, 'GET', '/api/health', { ts: now - MAX_SKEW_MS - 10_000 })).res.status, 401);
  assert.equal((await rawSigned(a!, b!, 'GET', '/api/health', { ts: now + MAX_SKEW_MS + 10_000 })).res.status, 401);
  assert.equal((await rawSigned(a!, b!, 'GET', '/api/health', { ts: now - MAX_SKEW_MS + 10_000 })).res.status, 200);
  // A's clock runs 6 min ahead: B refuses A's requests, and A refuses B's (stale) answers.
  a!.clock.advance(6 * 60_000);
  const skew = (e: unknown) => isCode('PEER_ERROR')(e) && /clock differs/.test((e as Error).message);
  await assert.rejects(a!.cell.client.call(b!.url, b!.id, 'GET', '/api/health'), skew);
  await assert.rejects(b!.cell.client.call(a!.url, a!.id, 'GET', '/api/health'), skew);
  a!.clock.advance(-6 * 60_000);
  assert.equal((await a!.cell.client.call(b!.url, b!.id, 'GET', '/api/health')).status, 200);
});

test('a replayed request gets 401, also after the cell restarts', async (t) => {
  const [a, b] = await paired(t);
  const first = await rawSigned(a!, b!, 'GET', '/api/health');
  assert.equal(first.res.status, 200);
  assert.deepEqual(await errorOf(await replay(b!, 'GET', '/api/health', first.headers)), { status: 401, error: 'UNAUTHENTICATED' });
  // Another request, recorded before a restart, replayed after it: the cache is in SQLite.
  const second = await rawSigned(a!, b!, 'GET', '/api/health');
  assert.equal(second.res.status, 200);
  await restartCell(b!);
  assert.equal((await replay(b!, 'GET', '/api/health', second.headers)).status, 401);
  assert.equal((await rawSigned(a!, b!, 'GET', '/api/health')).res.status, 200, 'fresh requests still pass');
});

test('a response signed by another cell, or altered on the way, is refused by the caller', async (t) => {
  const [a, b, c] = await paired(t, 3);
  await pairCells(a!, c!);
  // A means to reach B but the URL leads to C: C answers (signed by C), A refuses it.
  // Its TLS certificate carries C's key: refused before any request byte is sent.
  await assert.rejects(a!.cell.client.call(c!.url, b!.id, 'GET', '/api/health'), (e: unknown) => isCode('WRONG_IDENTITY')(e) && /another cell/.test((e as Error).message));
  // A proxy holding B's TLS key (a stolen certificate key, say) that alters B's answer body:
  // the response signature no longer matches.
  const proxy = createServer(await makeTlsIdentity(b!.cell.home.keys.identity.privateKey, b!.cell.home.keys.identity.publicKey), async (req, res) => {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host') headers[k] = v;
    const up = await tlsFetch(new URL(req.url!, b!.url), { method: req.method, headers });
    const text = (await up.text()).replace('true', 'false');
    const out: Record<string, string> = {};
    up.headers.forEach((v, k) => { if (k !== 'content-length' && k !== 'connection' && k !== 'keep-alive') out[k] = v; });
    res.writeHead(up.status, out);
    res.end(text);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => proxy.close(() => r())));
  const proxyUrl = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  await assert.rejects(a!.cell.client.call(proxyUrl, b!.id, 'GET', '/api/health'), (e: unknown) => isCode('PEER_ERROR')(e) && /does not match/.test((e as Error).message));
});

test('GET /api/identity is open and returns a card signed by the cell, binding its X25519 key', async (t) => {
  const [a, b] = await startCells(t, 2);
  const res = await tlsFetch(new URL('/api/identity', a!.url));
  assert.equal(res.status, 200);
  const card = verifyCard(await res.json(), a!.id);
  assert.equal(card.name, 'alpha');
  assert.equal(card.x25519, a!.cell.home.keys.x25519.publicRaw.toString('hex'));
  assert.deepEqual(card.routes, [a!.url]);
  // A stranger asking with its ID gets a signed response it can verify end to end.
  const r = await b!.cell.client.call(a!.url, a!.id, 'GET', '/api/identity');
  assert.equal(verifyCard(r.data, a!.id).id, a!.id);
  // Tampering with the card breaks its signature.
  const forged = { ...card, x25519: b!.cell.home.keys.x25519.publicRaw.toString('hex') };
  assert.throws(() => verifyCard(forged, a!.id), isCode('UNAUTHENTICATED'));
});

test('a restarted cell is recognised again by its peers and recognises them', async (t) => {
  const [a, b] = await paired(t);
  await stopCell(b!);
  await assert.rejects(a!.cell.call(b!.id, 'GET', '/api/health'), isCode('UNREACHABLE'));
  await restartCell(b!);
  assert.equal(b!.cell.apiUrl, b!.url, 'same port after restart');
  const r1 = await a!.cell.call<{ id: string }>(b!.id, 'GET', '/api/health');
  assert.equal(r1.data.id, b!.id);
  const r2 = await b!.cell.call<{ id: string }>(a!.id, 'GET', '/api/health');
  assert.equal(r2.data.id, a!.id);
  assert.ok(b!.cell.peers.isKnown(a!.id));
});

test('unknown endpoints answer 404 JSON, signed or not', async (t) => {
  const [a, b] = await paired(t);
  assert.deepEqual(await errorOf(await tlsFetch(new URL('/api/nope', b!.url))), { status: 401, error: 'UNAUTHENTICATED' });
  assert.deepEqual(await errorOf((await rawSigned(a!, b!, 'GET', '/api/nope')).res), { status: 404, error: 'NOT_FOUND' });
  assert.deepEqual(await errorOf(await tlsFetch(new URL('/nothing/here', b!.url))), { status: 401, error: 'UNAUTHENTICATED' });
  await assert.rejects(a!.cell.call(b!.id, 'GET', '/api/nope'), (e: unknown) => isCode('PEER_ERROR')(e) && (e as GroveError).detail?.status === 404);
});

test('the peer link is TLS 1.3 with AES-GCM preferred; any TLS 1.3 suite connects, TLS 1.2 does not', async (t) => {
  const [a, b] = await paired(t);
  const { port } = new URL(b!.url);
  const { connectToCell } = await import('../../src/tls/connect.js');
  const s = await connectToCell({ host: '127.0.0.1', port: Number(port) }, b!.id);
  assert.equal(s.getProtocol(), 'TLSv1.3');
  assert.equal(s.getCipher().name, 'TLS_AES_128_GCM_SHA256');
  s.destroy();
  const { connect } = await import('node:tls');
  const attempt = (o: { ciphers?: string; maxVersion?: 'TLSv1.2'; minVersion?: 'TLSv1.2' }) => new Promise<string>((resolve) => {
    const c = connect({ host: '127.0.0.1', port: Number(port), rejectUnauthorized: false, ...o });
    c.once('secureConnect', () => { resolve(c.getCipher().name); c.destroy(); });
    c.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
  });
  assert.equal(await attempt({ ciphers: 'TLS_CHACHA20_POLY1305_SHA256' }), 'TLS_CHACHA20_POLY1305_SHA256');
  assert.match(await attempt({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }), /^(EPROTO|ECONNRESET|ERR_SSL_)/, 'a TLS 1.2 client is refused');
  assert.equal((await a!.cell.call<{ id: string }>(b!.id, 'GET', '/api/health')).data.id, b!.id);
});
