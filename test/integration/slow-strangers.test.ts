import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect } from 'node:tls';
import { request } from 'node:https';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { startCells, waitFor, tlsFetch, type TestCell } from '../helpers/cells.js';
import { tempDir, GROVE_BIN, runGrove } from '../helpers/ingest.js';
import { CLI_ENV } from '../helpers/cli.js';
import { signRequest, toHttpHeaders, newNonce } from '../../src/net/signing.js';
import { initHome } from '../../src/home/home.js';
import { homePaths } from '../../src/home/paths.js';
import { PAIRING_BURST } from '../../src/guard/edge.js';
import { sha } from '../helpers/harden.js';

// Slow and greedy strangers at the peer API (docs/protocol.md "Bounds and defences").

const LIMITS = { headers_timeout_s: 1, request_timeout_s: 3, max_connections: 1024, max_connections_per_address: 8 };

/**
 * A TLS connection from `from` (any 127/8 address) that sends `head` and then stalls. A
 * connection the server refuses at once (over a cap) resolves too, already closed.
 */
function stall(url: string, from: string, head: string): Promise<{ socket: Socket; closed: Promise<number> }> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const started = Date.now();
    const tcp = tcpConnect({ host: u.hostname, port: Number(u.port), localAddress: from });
    tcp.on('error', () => {});
    const socket = connect({ socket: tcp, rejectUnauthorized: false, minVersion: 'TLSv1.3' }, () => {
      socket.write(head);
      resolve({ socket, closed });
    });
    const closed = new Promise<number>((r) => socket.once('close', () => r(Date.now() - started)));
    socket.on('error', () => {});
    void closed.then(() => resolve({ socket, closed }));
    socket.resume(); // read what the server says, so its end closes this socket
  });
}

async function closedWithin(c: { closed: Promise<number> }, ms: number, what: string): Promise<void> {
  const t = await Promise.race([c.closed, new Promise<number>((r) => setTimeout(() => r(-1), ms).unref())]);
  assert.ok(t >= 0, `${what}: still open after ${ms} ms`);
}

/** A signed POST /api/pair from a cell the target does not know. */
function pairHeaders(from: TestCell, to: TestCell, body: Buffer): Record<string, string> {
  const signed = signRequest(from.cell.home.keys.identity.privateKey, { method: 'POST', path: '/api/pair' }, {
    from: from.id, to: to.id, ts: from.clock.now(), nonce: newNonce(), bodySha256: sha(body),
  });
  return { ...toHttpHeaders(signed), 'content-type': 'application/json', 'content-length': String(body.length) };
}

test('a head or a body that trickles in is cut; a body where none is expected is refused unread', async (t) => {
  const [stranger, b] = await startCells(t, 2, { config: { limits: LIMITS } });
  // A head that never ends.
  const head = await stall(b!.url, '127.0.0.2', 'GET /api/identity HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  await closedWithin(head, 5_000, 'slow head');
  // A signed pairing request whose body never ends (the issue's 1 byte every few seconds).
  const body = Buffer.from(JSON.stringify({ token: 'x'.repeat(100) }));
  const slow = await stall(b!.url, '127.0.0.3', '');
  const u = new URL(b!.url);
  slow.socket.write(`POST /api/pair HTTP/1.1\r\nHost: ${u.host}\r\n${Object.entries(pairHeaders(stranger!, b!, body)).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
  slow.socket.write(body.subarray(0, 5));
  await closedWithin(slow, 8_000, 'slow body');
  // 1 GiB announced to the open GET /api/identity: 413 at once, never read.
  const status = await new Promise<number>((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method: 'GET', path: '/api/identity', rejectUnauthorized: false, headers: { 'content-length': String(1024 ** 3) } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'ECONNRESET' || (e as NodeJS.ErrnoException).code === 'EPIPE' ? undefined : reject(e)));
    req.write(Buffer.alloc(64 * 1024)); // and then nothing: only a server that does not wait for it answers
  });
  assert.equal(status, 413);
  // The server still answers everyone else.
  assert.equal((await tlsFetch(new URL('/api/identity', b!.url))).status, 200);
});

test('one address cannot hold more than its share of connections', async (t) => {
  const [b] = await startCells(t, 1, { config: { limits: { ...LIMITS, headers_timeout_s: 30 } } });
  const conns = await Promise.all(Array.from({ length: 20 }, () => stall(b!.url, '127.0.0.4', 'GET /api/identity HTTP/1.1\r\n')));
  // All but 8 are closed on arrival.
  const open = () => conns.filter((c) => !c.socket.destroyed && c.socket.readyState === 'open').length;
  await waitFor(() => open() <= LIMITS.max_connections_per_address, 'connections over the per-address cap closed', 5_000);
  assert.equal(open(), LIMITS.max_connections_per_address);
  // Another address is served meanwhile.
  assert.equal((await tlsFetch(new URL('/api/identity', b!.url))).status, 200);
  for (const c of conns) c.socket.destroy();
});

test('pairing attempts are rate-limited per address, before any nonce is recorded', async (t) => {
  const [stranger, b] = await startCells(t, 2);
  const codes: number[] = [];
  for (let i = 0; i < PAIRING_BURST + 10; i++) {
    const body = Buffer.from(JSON.stringify({ token: `bad-${i}`, card: {}, routes: [] }));
    const res = await tlsFetch(new URL('/api/pair', b!.url), { method: 'POST', headers: pairHeaders(stranger!, b!, body), body });
    codes.push(res.status);
  }
  assert.equal(codes.filter((c) => c === 429).length, 10, codes.join(','));
  assert.ok(codes.slice(0, PAIRING_BURST).every((c) => c >= 400 && c < 429), codes.join(','));
  const rows = b!.cell.home.db.prepare('SELECT COUNT(*) AS n FROM seen_nonces WHERE cell_id = ?').get(stranger!.id) as { n: number };
  assert.ok(rows.n <= PAIRING_BURST, `nonce rows: ${rows.n}`);
});

test('under a low descriptor limit, a flood of idle connections neither exhausts descriptors nor blocks the control socket', async (t) => {
  const home = join(await tempDir(t), 'home');
  initHome(home, { name: 'flooded', password: 'test-password', passwordIterations: 1 });
  const cfg = homePaths(home).config;
  writeFileSync(cfg, JSON.stringify({ ...JSON.parse(readFileSync(cfg, 'utf8')), limits: { ...LIMITS, headers_timeout_s: 60, request_timeout_s: 60, max_connections_per_address: 16 } }));
  const child = spawn('sh', ['-c', 'ulimit -n 256 && exec "$0" "$@"', process.execPath, GROVE_BIN, '--home', home, '--json', 'start', '--port', '0', '--host', '127.0.0.1', '--dashboard-port', '0'], {
    env: { ...process.env, ...CLI_ENV }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  const url = (JSON.parse(line) as { api_url: string }).api_url;

  // 20 addresses × 16 = 320 idle connections against a limit of 256 descriptors.
  const conns: Awaited<ReturnType<typeof stall>>[] = [];
  for (let a = 10; a < 30; a++) {
    const batch = await Promise.allSettled(Array.from({ length: 16 }, () => stall(url, `127.0.0.${a}`, 'POST /api/pair HTTP/1.1\r\n')));
    for (const r of batch) if (r.status === 'fulfilled') conns.push(r.value);
  }
  const open = () => conns.filter((c) => !c.socket.destroyed && c.socket.readyState === 'open').length;
  await waitFor(() => open() <= 192, 'connections over the total cap closed', 5_000);
  // The control socket still answers while the flood holds its share.
  const st = await runGrove(home, ['--json', 'status'], { env: CLI_ENV });
  assert.equal(st.code, 0, st.stderr);
  assert.equal((JSON.parse(st.stdout) as { running: boolean }).running, true);
  assert.ok(open() <= 192, `${open()} connections held`);
  // Once the flood lets go, new peers are served again.
  for (const c of conns) c.socket.destroy();
  await waitFor(async () => (await tlsFetch(new URL('/api/identity', url)).catch(() => undefined))?.status === 200, 'served again', 5_000);
  assert.doesNotMatch(stderr, /EMFILE/);
  child.kill('SIGTERM');
  await once(child, 'exit');
});
