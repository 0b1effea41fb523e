import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runGrove, GROVE_BIN, waitFor } from '../helpers/ingest.js';
import { CLI_ENV, groveJson, startDaemon } from '../helpers/cli.js';

// Real processes: a cell that accepts no inbound connection at all (an iptables REJECT on its
// port) is paired, shared with, chatted with and replicated to through a real `grove relay`
// process; a tcpdump capture of the relay's and the direct peer's ports shows nothing in the
// clear; the relay is killed mid-transfer and restarted, and the next round completes with
// `grove verify` clean on both sides. Needs root, iptables and tcpdump (.ci/run installs them).

function have(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const missing = process.getuid?.() !== 0 ? 'not root' : !have('iptables') ? 'no iptables' : !have('tcpdump') ? 'no tcpdump' : '';

function grove(home: string, ...args: string[]) {
  return runGrove(home, args, { env: CLI_ENV });
}

async function startRelay(t: TestContext, port: number): Promise<{ child: ChildProcess; url: string; port: number }> {
  const child = spawn(process.execPath, [GROVE_BIN, '--json', 'relay', '--host', '127.0.0.1', '--port', String(port)], {
    env: { ...process.env, GROVE_RELAY_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const [line] = await once(createInterface({ input: child.stdout! }), 'line') as [string];
  const info = JSON.parse(line) as { url: string };
  return { child, url: info.url, port: Number(new URL(info.url).port) };
}

/** Blocks inbound TCP connections to `port` on loopback until the test ends. */
function blockInbound(t: TestContext, port: number): void {
  const rule = ['INPUT', '-i', 'lo', '-p', 'tcp', '--dport', String(port), '--syn', '-j', 'REJECT', '--reject-with', 'tcp-reset'];
  execFileSync('iptables', ['-I', ...rule]);
  t.after(() => execFileSync('iptables', ['-D', ...rule]));
}

async function capture(t: TestContext, file: string, ports: number[]): Promise<() => Promise<Buffer>> {
  const child = spawn('tcpdump', ['-i', 'lo', '-U', '-s', '0', '-w', file, ports.map((p) => `tcp port ${p}`).join(' or ')], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); if (err.includes('listening on')) resolve(); });
    child.once('exit', () => reject(new Error(`tcpdump: ${err}`)));
  });
  return async () => {
    child.kill('SIGINT');
    await once(child, 'exit');
    return readFile(file);
  };
}

async function fileCount(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) n++;
  return n;
}

test('a cell behind a closed port works through a real relay, nothing in the clear, survives a relay restart', { skip: missing ? `needs root, iptables and tcpdump (${missing})` : false, timeout: 180_000 }, async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'grove-relay-cli-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const A = join(base, 'a');
  const B = join(base, 'b');
  assert.equal((await grove(A, 'init', '--name', 'alpha')).code, 0);
  assert.equal((await grove(B, 'init', '--name', 'beta')).code, 0);
  const relay = await startRelay(t, 0);
  assert.equal((await grove(B, 'config', 'set', 'relay.urls', relay.url)).code, 0);

  const a = await startDaemon(t, A);
  const b = await startDaemon(t, B);
  const bPort = Number(new URL(b.api_url).port);
  blockInbound(t, bPort);
  const relayRoute = `relay+ws://127.0.0.1:${relay.port}/${b.id}`;

  // Pairing: beta invites; its direct route is refused, its relay route answers.
  const { code } = await groveJson<{ code: string }>(B, 'invite');
  const paired = await waitFor(async () => {
    const r = await runGrove(A, ['--json', 'pair', code], { env: CLI_ENV });
    return r.code === 0 ? JSON.parse(r.stdout) as { id: string; routes: string[] } : undefined;
  }, 'pairing through the relay', 20_000, 200);
  assert.equal(paired.id, b.id);
  assert.ok(paired.routes.includes(relayRoute));

  const peers = await groveJson<{ peers: { best_route: string; online: boolean; routes: { url: string; kind: string; error: string | null }[] }[] }>(A, 'peers', '--probe');
  assert.equal(peers.peers[0]!.online, true);
  assert.equal(peers.peers[0]!.best_route, relayRoute);
  assert.equal(peers.peers[0]!.routes.find((r) => r.url === relayRoute)!.kind, 'relay');
  assert.ok(peers.peers[0]!.routes.find((r) => r.kind === 'direct')!.error, 'the blocked direct route says why');

  // Share and chat while capturing the relay's port and alpha's direct port (beta → alpha).
  const aPort = Number(new URL(a.api_url).port);
  const stop = await capture(t, join(base, 'cap.pcap'), [relay.port, aPort]);
  const src = join(base, 'quarterly-secret-report.pdf');
  await writeFile(src, randomBytes(3 * 1024 * 1024));
  assert.equal((await grove(A, 'add', src)).code, 0);
  const shared = await groveJson<{ grants: { delivered: boolean }[] }>(A, 'share', 'quarterly-secret-report.pdf', 'beta');
  assert.equal(shared.grants[0]!.delivered, true);
  assert.equal((await groveJson<{ message: { delivered: boolean } }>(A, 'chat', 'beta', 'the eagle lands at noon')).message.delivered, true);
  assert.equal((await groveJson<{ message: { delivered: boolean } }>(B, 'chat', 'alpha', 'copy that, over')).message.delivered, true);
  const feed = await groveJson<{ items: { filename: string }[] }>(B, 'feed');
  assert.deepEqual(feed.items.map((i) => i.filename), ['quarterly-secret-report.pdf']);
  const wire = await stop();
  assert.ok(wire.length > 3 * 1024 * 1024, 'the file crossed the captured ports');
  for (const needle of ['quarterly-secret-report', 'the eagle lands', 'copy that', 'receive-grant', 'x-grove-', 'application/pdf']) {
    assert.equal(wire.includes(Buffer.from(needle)), false, `${needle} seen in the clear`);
  }

  // The relay is killed in the middle of a replication round, then restarted on its port.
  const big = join(base, 'big.bin');
  await writeFile(big, randomBytes(64 * 1024 * 1024));
  assert.equal((await grove(A, 'add', big)).code, 0);
  const before = await fileCount(join(B, 'chunks'));
  const round = grove(A, '--json', 'sync');
  await waitFor(async () => (await fileCount(join(B, 'chunks'))) > before + 1, 'the round to reach beta', 60_000, 10);
  relay.child.kill('SIGKILL');
  await round;
  const again = await startRelay(t, relay.port);
  await waitFor(async () => (await runGrove(A, ['--json', 'peers', '--probe'], { env: CLI_ENV })).stdout.includes('"online":true'), 'beta back through the restarted relay', 60_000, 250);
  const next = await groveJson<{ errors: unknown[]; at_risk: number }>(A, 'sync');
  assert.deepEqual(next.errors, []);
  for (const home of [A, B]) {
    const v = await groveJson<{ corrupt: unknown[]; missing: unknown[] }>(home, 'verify');
    assert.deepEqual([v.corrupt, v.missing], [[], []], `verify clean on ${home}`);
  }
  again.child.kill('SIGTERM');
  await Promise.all([a.stop(), b.stop()]);
});

test('grove relay: rate flags are checked; the process loads no database', async (t) => {
  const bad = await runGrove('/nonexistent', ['relay', '--cell-rate', '0'], { env: CLI_ENV });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--cell-rate must be a positive number of MiB\/s/);
  const child = spawn(process.execPath, [GROVE_BIN, '--json', 'relay', '--host', '127.0.0.1', '--port', '0', '--cell-rate', '1', '--total-rate', '2'], {
    env: { ...process.env, GROVE_RELAY_LOG: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const [line] = await once(createInterface({ input: child.stdout! }), 'line') as [string];
  assert.match((JSON.parse(line) as { url: string }).url, /^ws:\/\/127\.0\.0\.1:\d+$/);
  if (process.platform === 'linux') {
    const maps = await readFile(`/proc/${child.pid}/maps`, 'utf8');
    assert.equal(maps.includes('better_sqlite3'), false, 'the relay loaded SQLite');
  }
  child.kill('SIGTERM');
  assert.equal((await once(child, 'exit'))[0], 0);
});
