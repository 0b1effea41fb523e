import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { generateEd25519, cellIdFromPublic, type KeyPair } from '../crypto/keys.js';
import { RelayServer, type RelayServerOptions } from './server.js';
import { PATHS, CLOSE, signHello, parseRelayMessage, MAX_DATA_FRAME, type RelayMessage } from './protocol.js';
import { FD_RESERVE } from './limits.js';

// The relay against raw WebSocket clients: authentication, impersonation, private relays and
// every limit at and past its boundary.

interface Cell { keys: KeyPair; id: string }
const newCell = (): Cell => { const keys = generateEd25519(); return { keys, id: cellIdFromPublic(keys.publicRaw) }; };

async function relay(t: TestContext, o: RelayServerOptions = {}) {
  const r = new RelayServer({ host: '127.0.0.1', port: 0, ...o });
  const url = await r.start();
  t.after(() => r.stop());
  return { r, url };
}

/** A client: its socket, its control messages in order, and how it closed. */
function open(url: string, path: string) {
  const ws = new WebSocket(url + path, { maxPayload: 2 * MAX_DATA_FRAME });
  const messages: RelayMessage[] = [];
  const data: Buffer[] = [];
  const waiters: (() => void)[] = [];
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  const refused = new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
  ws.on('error', () => {});
  ws.on('message', (d: Buffer, bin: boolean) => {
    if (bin) data.push(d);
    else messages.push(parseRelayMessage(d.toString())!);
    for (const w of waiters.splice(0)) w();
  });
  const next = async (t: RelayMessage['t']) => {
    for (;;) {
      const m = messages.find((x) => x.t === t);
      if (m) { messages.splice(messages.indexOf(m), 1); return m; }
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  return { ws, messages, data, closed, refused, next };
}

async function listen(url: string, c: Cell, o: { signFor?: string; sigBy?: Cell; token?: string } = {}) {
  const k = open(url, PATHS.listen);
  const ch = await k.next('challenge') as { nonce: string };
  k.ws.send(JSON.stringify({ t: 'listen', id: c.id, sig: signHello((o.sigBy ?? c).keys.privateKey, o.signFor ?? url, ch.nonce, 'listen'), ...(o.token ? { token: o.token } : {}) }));
  return k;
}

async function dial(url: string, from: Cell, to: Cell) {
  const k = open(url, PATHS.dial);
  const ch = await k.next('challenge') as { nonce: string };
  k.ws.send(JSON.stringify({ t: 'dial', id: from.id, to: to.id, sig: signHello(from.keys.privateKey, url, ch.nonce, 'dial', to.id) }));
  return k;
}

/** A joined stream: caller and callee sockets after both got ok. */
async function stream(url: string, listener: Awaited<ReturnType<typeof listen>>, from: Cell, to: Cell) {
  const caller = await dial(url, from, to);
  const inc = await listener.next('incoming') as { sid: string; from: string };
  assert.equal(inc.from, from.id);
  const callee = open(url, PATHS.accept);
  await callee.next('challenge');
  callee.ws.send(JSON.stringify({ t: 'accept', sid: inc.sid }));
  await callee.next('ok');
  await caller.next('ok');
  return { caller, callee };
}

test('a cell proves its ID; a second connection for it gets nothing; the first keeps its place', async (t) => {
  const { r, url } = await relay(t);
  const a = newCell();
  const first = await listen(url, a);
  await first.next('ok');
  const second = await listen(url, a);
  assert.equal(await second.closed, CLOSE.DUPLICATE);
  assert.equal(r.stats().cells, 1);
  first.ws.close();
});

test('impersonation: a signature by another key, or for another relay, is refused', async (t) => {
  const { r, url } = await relay(t);
  const victim = newCell();
  const forged = await listen(url, victim, { sigBy: newCell() });
  assert.equal(await forged.closed, CLOSE.UNAUTHENTICATED);
  const replayed = await listen(url, victim, { signFor: 'ws://evil.example:7430' });
  assert.equal(await replayed.closed, CLOSE.UNAUTHENTICATED);
  assert.equal(r.stats().cells, 0);
});

test('a private relay refuses a stranger and a wrong token', async (t) => {
  const a = newCell();
  const { url } = await relay(t, { allow: [a.id], token: 's3cret' });
  const stranger = await listen(url, newCell(), { token: 's3cret' });
  assert.equal(await stranger.closed, CLOSE.FORBIDDEN);
  const noToken = await listen(url, a);
  assert.equal(await noToken.closed, CLOSE.FORBIDDEN);
  const ok = await listen(url, a, { token: 's3cret' });
  await ok.next('ok');
  ok.ws.close();
});

test('malformed and oversized hellos, and a silent client, are cut', async (t) => {
  const { url } = await relay(t, { limits: { handshakeMs: 100 } });
  const bad = open(url, PATHS.listen);
  await bad.next('challenge');
  bad.ws.send('{"t":"listen"');
  assert.equal(await bad.closed, CLOSE.BAD_MESSAGE);
  const big = open(url, PATHS.listen);
  await big.next('challenge');
  big.ws.send(JSON.stringify({ t: 'listen', pad: 'x'.repeat(1100) }));
  assert.equal(await big.closed, CLOSE.BAD_MESSAGE);
  const silent = open(url, PATHS.listen);
  await silent.next('challenge');
  assert.equal(await silent.closed, CLOSE.TIMEOUT);
  assert.equal(await open(url, '/elsewhere').refused, 404);
});

test('streams join and pipe both ways; a 64 KiB frame passes, a larger one is refused', async (t) => {
  const { url } = await relay(t);
  const [a, b] = [newCell(), newCell()];
  const lb = await listen(url, b);
  await lb.next('ok');
  const missing = await dial(url, a, newCell());
  assert.equal(await missing.closed, CLOSE.NOT_CONNECTED);
  const { caller, callee } = await stream(url, lb, a, b);
  const frame = Buffer.alloc(MAX_DATA_FRAME, 7);
  caller.ws.send(frame);
  callee.ws.send(Buffer.from('pong'));
  await new Promise<void>((res) => { const i = setInterval(() => { if (callee.data.length && caller.data.length) { clearInterval(i); res(); } }, 5); });
  assert.ok(callee.data[0]!.equals(frame));
  assert.equal(caller.data[0]!.toString(), 'pong');
  // Past the frame limit the relay's WebSocket layer cuts the sender (1009 message too big)
  // before buffering it, and the stream ends for the other side too.
  caller.ws.send(Buffer.alloc(MAX_DATA_FRAME + 1));
  assert.equal(await caller.closed, 1009);
  await callee.closed;
  lb.ws.close();
});

test('streams per cell: at the cap a further dial is refused', async (t) => {
  const { url } = await relay(t, { limits: { streamsPerCell: 1 } });
  const [a, b] = [newCell(), newCell()];
  const lb = await listen(url, b);
  await lb.next('ok');
  const s = await stream(url, lb, a, b);
  const over = await dial(url, a, b);
  assert.equal(await over.closed, CLOSE.TOO_MANY);
  s.caller.ws.close();
  await s.callee.closed;
  const again = await stream(url, lb, a, b);
  again.caller.ws.close();
  lb.ws.close();
});

test('connections per IP, and in all (kept below the fd limit), are capped', async (t) => {
  const { url } = await relay(t, { limits: { perIp: 2 } });
  const k1 = open(url, PATHS.listen);
  const k2 = open(url, PATHS.listen);
  await k1.next('challenge');
  await k2.next('challenge');
  assert.equal(await open(url, PATHS.listen).refused, 429);
  k1.ws.close();
  await k1.closed;
  const k3 = open(url, PATHS.listen);
  await k3.next('challenge');
  k2.ws.close();
  k3.ws.close();

  const small = await relay(t, { fdLimit: FD_RESERVE + 1 });
  assert.equal(small.r.connectionCap, 1);
  const only = open(small.url, PATHS.listen);
  await only.next('challenge');
  assert.equal(await open(small.url, PATHS.listen).refused, 503);
  only.ws.close();
});

test('a stream whose reader stalls holds at most its queue bound in the relay; nothing is lost', async (t) => {
  const { r, url } = await relay(t, { limits: { queueBytes: 256 * 1024 } });
  const [a, b] = [newCell(), newCell()];
  const lb = await listen(url, b);
  await lb.next('ok');
  const { caller, callee } = await stream(url, lb, a, b);
  callee.ws.pause();
  const total = 24 * 1024 * 1024;
  const frame = Buffer.alloc(MAX_DATA_FRAME, 1);
  for (let sent = 0; sent < total; sent += frame.length) caller.ws.send(frame);
  let peak = 0;
  const watch = setInterval(() => { peak = Math.max(peak, r.stats().queued); }, 1);
  // The relay stops reading the caller: its bytes wait on the caller's side.
  await new Promise<void>((res) => { const i = setInterval(() => { if (caller.ws.bufferedAmount > 0 && r.stats().queued > 0) { clearInterval(i); res(); } }, 5); });
  callee.ws.resume();
  await new Promise<void>((res) => { const i = setInterval(() => { if (callee.data.reduce((n, d) => n + d.length, 0) >= total) { clearInterval(i); res(); } }, 5); });
  clearInterval(watch);
  assert.equal(callee.data.reduce((n, d) => n + d.length, 0), total);
  assert.ok(peak <= 256 * 1024 + MAX_DATA_FRAME, `relay queue peaked at ${peak}`);
  caller.ws.close();
  lb.ws.close();
});

test('streams whose readers stall hold at most the relay-wide bound together; all resume and nothing is lost', async (t) => {
  const total = 256 * 1024;
  const { r, url } = await relay(t, { limits: { queueBytes: 1024 * 1024, totalQueueBytes: total } });
  const b = newCell();
  const lb = await listen(url, b);
  await lb.next('ok');
  const pairs: Awaited<ReturnType<typeof stream>>[] = [];
  for (const a of [newCell(), newCell()]) pairs.push(await stream(url, lb, a, b));
  const each = 16 * 1024 * 1024; // more than the kernel buffers of a loopback connection take
  const frame = Buffer.alloc(MAX_DATA_FRAME, 3);
  for (const { caller, callee } of pairs) {
    callee.ws.pause();
    for (let sent = 0; sent < each; sent += frame.length) caller.ws.send(frame);
  }
  let peak = 0;
  const watch = setInterval(() => { peak = Math.max(peak, r.stats().queued); }, 1);
  // Both callers are held back by the relay's total, not by their own (larger) queues.
  await new Promise<void>((res) => { const i = setInterval(() => { if (pairs.every((p) => p.caller.ws.bufferedAmount > 0) && r.stats().queued > 0) { clearInterval(i); res(); } }, 5); });
  for (const { callee } of pairs) callee.ws.resume();
  const got = (p: Awaited<ReturnType<typeof stream>>) => p.callee.data.reduce((n, d) => n + d.length, 0);
  await new Promise<void>((res) => { const i = setInterval(() => { if (pairs.every((p) => got(p) >= each)) { clearInterval(i); res(); } }, 5); });
  clearInterval(watch);
  for (const p of pairs) assert.equal(got(p), each);
  assert.ok(peak <= total + 2 * MAX_DATA_FRAME, `relay queue peaked at ${peak}`);
  assert.equal(r.stats().queued, 0);
  for (const { caller } of pairs) caller.ws.close();
  lb.ws.close();
});

test('a relay given a collector runs it as bytes are forwarded', async (t) => {
  const kinds: string[] = [];
  const { url } = await relay(t, { collect: (k) => kinds.push(k) });
  const [a, b] = [newCell(), newCell()];
  const lb = await listen(url, b);
  await lb.next('ok');
  const { caller, callee } = await stream(url, lb, a, b);
  const total = 40 * 1024 * 1024;
  const frame = Buffer.alloc(MAX_DATA_FRAME, 4);
  for (let sent = 0; sent < total; sent += frame.length) caller.ws.send(frame);
  await new Promise<void>((res) => { const i = setInterval(() => { if (callee.data.reduce((n, d) => n + d.length, 0) >= total) { clearInterval(i); res(); } }, 5); });
  assert.equal(kinds.filter((k) => k === 'major').length, 1);
  assert.equal(kinds.filter((k) => k === 'minor').length, 9);
  caller.ws.close();
  lb.ws.close();
});

test('per-cell rate limit: a cell cannot push faster than its token bucket', async (t) => {
  const rate = 1024 * 1024;
  const { url } = await relay(t, { limits: { cellBytesPerSec: rate } });
  const [a, b] = [newCell(), newCell()];
  const lb = await listen(url, b);
  await lb.next('ok');
  const { caller, callee } = await stream(url, lb, a, b);
  const total = 2.5 * rate;
  const t0 = performance.now();
  const frame = Buffer.alloc(MAX_DATA_FRAME, 2);
  for (let sent = 0; sent < total; sent += frame.length) caller.ws.send(frame);
  await new Promise<void>((res) => { const i = setInterval(() => { if (callee.data.reduce((n, d) => n + d.length, 0) >= total) { clearInterval(i); res(); } }, 5); });
  // One second's burst passes at once; the remaining 1.5 s worth waits for tokens.
  assert.ok(performance.now() - t0 >= 1400, `took ${performance.now() - t0} ms`);
  caller.ws.close();
  lb.ws.close();
});
