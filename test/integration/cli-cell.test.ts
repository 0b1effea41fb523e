import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { runGrove } from '../helpers/ingest.js';
import { CLI_ENV, groveJson, startDaemon } from '../helpers/cli.js';

// The real `grove` executable: two homes, two daemons as child processes, invite/pair,
// peers with measured routes, status, single instance, clean exit on SIGTERM.

function grove(home: string, ...args: string[]) {
  return runGrove(home, args, { env: CLI_ENV });
}

interface PeersOut {
  peers: { id: string; name: string; preferred: boolean; online: boolean; uptime: number | null; best_route: string | null; routes: { url: string; latency_ms: number | null; throughput_MBps: number | null; score: number | null }[] }[];
}

test('grove start / invite / pair / peers / status / prefer / route through the executable', async (t) => {
  const base = await mkdtemp(join(tmpdir(), 'grove-cli-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const A = join(base, 'a');
  const B = join(base, 'b');
  assert.equal((await grove(A, 'init', '--name', 'alpha')).code, 0);
  assert.equal((await grove(B, 'init', '--name', 'beta')).code, 0);

  // Not running yet: status exits 1 with one clear line.
  const down = await grove(A, 'status');
  assert.equal(down.code, 1);
  assert.equal(down.stderr.trim(), `grove: no cell running for ${A} (start one with \`grove start\`)`);

  const a = await startDaemon(t, A);
  const b = await startDaemon(t, B);
  assert.match(a.api_url, /^https:\/\/127\.0\.0\.1:\d+$/);

  // A second start on the same home fails clearly and leaves the first running.
  const again = await grove(A, 'start', '--port', '0', '--host', '127.0.0.1', '--dashboard-port', '0');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /a cell is already running for .*\(pid \d+\)/);

  const { code } = await groveJson<{ code: string }>(A, 'invite');
  const paired = await groveJson<{ id: string; name: string }>(B, 'pair', code);
  assert.equal(paired.id, a.id);
  assert.equal(paired.name, 'alpha');
  // The code is single use.
  const reuse = await grove(B, 'pair', code);
  assert.equal(reuse.code, 1);
  assert.match(reuse.stderr, /already used/);

  for (const [home, other] of [[A, b], [B, a]] as const) {
    const out = await groveJson<PeersOut>(home, 'peers', '--probe');
    assert.equal(out.peers.length, 1);
    const p = out.peers[0]!;
    assert.equal(p.id, other.id);
    assert.equal(p.online, true);
    assert.equal(p.best_route, other.api_url);
    const r = p.routes.find((x) => x.url === other.api_url)!;
    assert.ok(r.latency_ms !== null && r.latency_ms > 0, 'latency measured');
    assert.ok(r.throughput_MBps !== null && r.throughput_MBps > 0, 'throughput measured');
    assert.ok(r.score !== null);
  }

  const st = await groveJson<{ running: boolean; id: string; api_url: string; peers: number; objects: number; bytes: number }>(A, 'status');
  assert.deepEqual({ running: st.running, id: st.id, api_url: st.api_url, peers: st.peers }, { running: true, id: a.id, api_url: a.api_url, peers: 1 });
  assert.equal(typeof st.objects, 'number');
  assert.equal(typeof st.bytes, 'number');

  // prefer and route work by name or ID prefix, with the daemon running.
  assert.equal((await groveJson<{ preferred: boolean }>(A, 'prefer', 'beta')).preferred, true);
  assert.equal((await groveJson<{ added: boolean }>(A, 'route', 'add', b.id.slice(0, 8), 'http://127.0.0.1:1')).added, true);
  let view = await groveJson<PeersOut>(A, 'peers');
  assert.equal(view.peers[0]!.preferred, true);
  assert.equal(view.peers[0]!.routes.length, 2);
  assert.equal((await grove(A, 'route', 'rm', 'beta', 'http://127.0.0.1:1')).code, 0);
  const unknown = await grove(A, 'prefer', 'nobody');
  assert.equal(unknown.code, 1);
  assert.equal(unknown.stderr.split('\n').filter(Boolean).length, 1, 'one line');
  view = await groveJson<PeersOut>(A, 'peers');
  assert.equal(view.peers[0]!.routes.length, 1);

  // SIGTERM: clean exit 0, socket and pid file gone.
  for (const d of [a, b]) {
    d.child.kill('SIGTERM');
    const [exitCode] = await once(d.child, 'exit');
    assert.equal(exitCode, 0);
  }
  assert.equal(existsSync(join(A, 'control.sock')), false);
  assert.equal(existsSync(join(A, 'cell.pid')), false);
  assert.equal((await grove(A, 'status', '--json')).code, 1);
  // Offline, `grove peers` still shows what was recorded.
  const offline = await groveJson<PeersOut>(A, 'peers');
  assert.equal(offline.peers[0]!.id, b.id);
  assert.ok(existsSync(join(A, 'logs', 'grove.log')));
});
