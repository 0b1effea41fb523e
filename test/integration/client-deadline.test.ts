import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { startCells } from '../helpers/cells.js';
import { createPeerServer } from '../../src/net/server.js';
import { H, EMPTY_SHA256 } from '../../src/net/signing.js';
import { GroveError } from '../../src/errors.js';
import { makeTlsIdentity } from '../../src/tls/certificate.js';

// A peer that answers the head and then stalls the body (the 45 s inventory answer)
// is cut at the caller's deadline: the timer covers the whole response.

test('a response body that stalls is cut at the deadline, and by the caller\'s signal', async (t) => {
  const [a, b] = await startCells(t, 2);
  // A hostile peer signing with b's key: a valid signed head, then a body that never ends.
  const stalls: PassThrough[] = [];
  const hostile = createPeerServer({
    selfId: b!.id, identity: b!.cell.home.keys.identity.privateKey, clock: Date.now,
    isKnownPeer: () => true, nonces: { remember: () => true },
    tls: () => makeTlsIdentity(b!.cell.home.keys.identity.privateKey, b!.cell.home.keys.identity.publicKey),
  });
  hostile.get('/api/inventory', async (_req, reply) => {
    const body = new PassThrough();
    stalls.push(body);
    body.write('{"objects":[');
    reply.header(H.body, EMPTY_SHA256).type('application/json');
    return reply.send(body);
  });
  await hostile.listen({ host: '127.0.0.1', port: 0 });
  t.after(async () => {
    for (const s of stalls) s.destroy();
    await hostile.close();
  });
  const url = `https://127.0.0.1:${(hostile.server.address() as { port: number }).port}`;

  const started = performance.now();
  await assert.rejects(a!.cell.client.call(url, b!.id, 'GET', '/api/inventory', { timeoutMs: 500 }),
    (e: unknown) => e instanceof GroveError && e.code === 'UNREACHABLE');
  const took = performance.now() - started;
  assert.ok(took >= 450 && took < 5_000, `cut after ${took.toFixed(0)} ms`);

  const ctl = new AbortController();
  const call = a!.cell.client.call(url, b!.id, 'GET', '/api/inventory', { timeoutMs: 60_000, signal: ctl.signal });
  setTimeout(() => ctl.abort(), 200);
  const t0 = performance.now();
  await assert.rejects(call, (e: unknown) => e instanceof GroveError);
  assert.ok(performance.now() - t0 < 5_000);
});
