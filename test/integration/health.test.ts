import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startCells, pairCells, stopCell, restartCell, waitFor } from '../helpers/cells.js';
import { probePeer, benchmarkDueRoutes, peerView, BENCH_BYTES } from '../../src/peers/probe.js';
import { parseHealthFile, parseSpeedFile } from '../../src/peers/records.js';
import { homePaths } from '../../src/home/paths.js';
import { createCell } from '../../src/cell.js';

// Probes, benchmarks and their records (docs/design.md §1 peer_health.json / peer_speeds.json, §4).

test('probes mark a stopped cell offline and online again, keeping uptime', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  // The inviter probes a new peer on first contact by itself; count from there.
  await waitFor(() => a!.cell.records.peerHealth(b!.id), 'first contact');
  const base = a!.cell.records.peerHealth(b!.id)!.checks;
  const h1 = await probePeer(a!.cell, b!.id);
  assert.equal(h1.online, true);
  assert.equal(h1.routes[b!.url]!.reachable, true);
  assert.ok(h1.routes[b!.url]!.latency_ms! > 0);

  await stopCell(b!);
  const h2 = await probePeer(a!.cell, b!.id);
  assert.equal(h2.online, false);
  assert.equal(h2.routes[b!.url]!.reachable, false);
  assert.match(h2.routes[b!.url]!.error ?? '', /cannot reach/);
  let view = peerView(a!.cell, a!.cell.peers.get(b!.id)!);
  assert.equal(view.online, false);
  assert.equal(view.best_route, null);

  await restartCell(b!);
  const h3 = await probePeer(a!.cell, b!.id);
  assert.equal(h3.online, true);
  assert.equal(h3.checks, base + 3);
  assert.equal(h3.ok, base + 2);
  view = peerView(a!.cell, a!.cell.peers.get(b!.id)!);
  assert.equal(view.online, true);
  assert.equal(view.uptime, Math.round(((base + 2) / (base + 3)) * 1000) / 1000);
  assert.equal(view.best_route, b!.url);
  assert.ok(h3.first_seen <= h3.last_seen && h3.last_ok === h3.last_seen);
});

test("the daemon's probe loop keeps a peer's online state current", async (t) => {
  const [a, b] = await startCells(t, 2, { probeMs: 25 });
  // Resolves at the next probe of b that finds it in the given state (only the loop probes
  // once the first contact is over: nothing else runs on these cells).
  const probed = (online: boolean) => new Promise<void>((resolve) => {
    const on = (peerId: string, h: { online: boolean }) => {
      if (peerId !== b!.id || h.online !== online) return;
      a!.cell.events.off('probe', on);
      resolve();
    };
    a!.cell.events.on('probe', on);
  });
  const up = probed(true);
  await pairCells(a!, b!);
  await up;
  const down = probed(false);
  await stopCell(b!);
  await down;
  assert.equal(a!.cell.records.peerHealth(b!.id)?.online, false);
  const upAgain = probed(true);
  await restartCell(b!);
  await upAgain;
  assert.equal(a!.cell.records.peerHealth(b!.id)?.online, true);
});

test('routes are benchmarked on first contact and again once the interval has passed', async (t) => {
  const [a, b] = await startCells(t, 2, { config: { bench: { interval_s: 3600 } } });
  await pairCells(a!, b!);
  // First contact: the new peer's routes are benchmarked without being asked.
  const s1 = await waitFor(() => b!.cell.records.routeSpeed(a!.id, a!.url), 'first-contact benchmark');
  assert.equal(s1.bytes, BENCH_BYTES);
  assert.ok(s1.throughput_MBps > 0);
  assert.equal(s1.runs, 1);
  assert.equal((await benchmarkDueRoutes(b!.cell, a!.id)).size, 0, 'not due again yet');
  // An hour later (both clocks move, or signed requests would be stale).
  a!.clock.advance(3600_000 + 1000);
  b!.clock.advance(3600_000 + 1000);
  const again = await benchmarkDueRoutes(b!.cell, a!.id);
  assert.equal(again.get(a!.url)!.runs, 2);
  // The view combines latency and throughput into the seed's effective score.
  await probePeer(b!.cell, a!.id);
  const r = peerView(b!.cell, b!.cell.peers.get(a!.id)!).routes[0]!;
  assert.ok(Math.abs(r.score! - (r.latency_ms! - r.throughput_MBps! * 0.1)) < 1e-9);
  // And it is on disk.
  await b!.cell.records.flush();
  const speeds = parseSpeedFile(JSON.parse(readFileSync(homePaths(b!.root).peerSpeeds, 'utf8')))!;
  assert.equal(speeds.peers[a!.id]![a!.url]!.runs, 2);
});

test('health and speed files are written atomically and read defensively after a crash', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  await probePeer(a!.cell, b!.id);
  await benchmarkDueRoutes(a!.cell, b!.id);
  await a!.cell.records.flush();
  const paths = homePaths(a!.root);
  const health = parseHealthFile(JSON.parse(readFileSync(paths.peerHealth, 'utf8')))!;
  assert.equal(health.peers[b!.id]!.online, true);
  assert.ok(parseSpeedFile(JSON.parse(readFileSync(paths.peerSpeeds, 'utf8')))!.peers[b!.id]![b!.url]);
  assert.deepEqual(readdirSync(a!.root).filter((n) => n.startsWith('.tmp-')), [], 'no temp files left');

  // A crash: the health file torn, a temp file of an interrupted write left behind, and one
  // invalid entry in the speeds file next to a valid one.
  await stopCell(a!);
  writeFileSync(paths.peerHealth, '{"version":1,"peers":{"abc');
  writeFileSync(`${dirname(paths.peerHealth)}/.tmp-peer_health.json.0123456789ab`, '{"version":1,"pe');
  const speeds = JSON.parse(readFileSync(paths.peerSpeeds, 'utf8'));
  speeds.peers[b!.id]['http://127.0.0.1:1'] = { throughput_MBps: 'fast' };
  writeFileSync(paths.peerSpeeds, JSON.stringify(speeds));

  const warnings: string[] = [];
  const sink = new Writable({ write(chunk, _enc, cb) { warnings.push(JSON.parse(String(chunk)).msg); cb(); } });
  const cell = await createCell({ home: a!.root, host: '127.0.0.1', port: 0, control: false, intervals: { probeMs: 0 }, logger: pino({ level: 'warn' }, sink) });
  t.after(() => cell.stop());
  assert.ok(warnings.some((w) => /peer_health\.json is not valid JSON/.test(w)), warnings.join('; '));
  assert.equal(cell.records.peerHealth(b!.id), undefined, 'torn health file read as empty');
  assert.ok(cell.records.routeSpeed(b!.id, b!.url), 'valid speed entry kept');
  assert.equal(cell.records.routeSpeed(b!.id, 'http://127.0.0.1:1'), undefined, 'invalid speed entry dropped');
  // The running cell removes the leftover; the next probe writes a whole, valid file again.
  await cell.start();
  assert.deepEqual(readdirSync(a!.root).filter((n) => n.startsWith('.tmp-')), [], 'leftover temp file removed');
  await probePeer(cell, b!.id);
  await cell.records.flush();
  assert.equal(parseHealthFile(JSON.parse(readFileSync(paths.peerHealth, 'utf8')))!.peers[b!.id]!.online, true);
});
