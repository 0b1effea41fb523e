import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerRecords, parseHealthFile, parseSpeedFile } from './records.js';

function home(t: import('node:test').TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'grove-records-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, peerHealth: join(dir, 'peer_health.json'), peerSpeeds: join(dir, 'peer_speeds.json') };
}

test('probe results accumulate uptime per peer and per route, and reach the disk', async (t) => {
  const h = home(t);
  const r = new PeerRecords(h, () => {});
  r.recordProbe('p', [{ url: 'http://a:1', reachable: true, latency_ms: 3.21234 }, { url: 'http://b:1', reachable: false, error: 'refused' }], 1000);
  r.recordProbe('p', [{ url: 'http://a:1', reachable: false, error: 'timed out' }, { url: 'http://b:1', reachable: false }], 2000);
  const p = r.recordProbe('p', [{ url: 'http://a:1', reachable: true, latency_ms: 5 }], 3000);
  assert.deepEqual({ first: p.first_seen, last: p.last_seen, ok: p.ok, checks: p.checks, lastOk: p.last_ok, online: p.online }, { first: 1000, last: 3000, ok: 2, checks: 3, lastOk: 3000, online: true });
  assert.deepEqual(p.routes['http://a:1'], { reachable: true, latency_ms: 5, last_check: 3000, last_ok: 3000, checks: 3, ok: 2 });
  assert.equal(p.routes['http://b:1']!.error, 'refused');
  r.recordBench('p', 'http://a:1', { bytes: 262144, ms: 10 }, 3000);
  await r.flush();
  assert.deepEqual(parseHealthFile(JSON.parse(readFileSync(h.peerHealth, 'utf8'))), r.health.data);
  assert.equal(parseSpeedFile(JSON.parse(readFileSync(h.peerSpeeds, 'utf8')))!.peers.p!['http://a:1']!.throughput_MBps, 26.214);
});

test('many quick updates coalesce, and the file ends with the latest state', async (t) => {
  const h = home(t);
  const r = new PeerRecords(h, () => {});
  for (let i = 0; i < 200; i++) r.recordProbe(`p${i % 7}`, [{ url: 'http://a:1', reachable: i % 2 === 0, latency_ms: i }], i);
  await r.flush();
  assert.deepEqual(JSON.parse(readFileSync(h.peerHealth, 'utf8')), JSON.parse(JSON.stringify(r.health.data)));
  assert.deepEqual(readdirSync(h.dir).filter((n) => n.startsWith('.tmp-')), []);
});

test('torn, foreign or partly invalid files load as empty or without the bad entries', (t) => {
  const h = home(t);
  const warnings: string[] = [];
  for (const text of ['{"version":1,"peers":{"x', '[]', '{"version":9,"peers":{}}', 'null', '']) {
    writeFileSync(h.peerHealth, text);
    const r = new PeerRecords(h, (m) => warnings.push(m));
    assert.deepEqual(r.health.data, { version: 1, peers: {} }, text);
  }
  assert.equal(warnings.length, 5);
  writeFileSync(h.peerHealth, '{}');
  assert.deepEqual(new PeerRecords(h, () => assert.fail('the file `grove init` writes is valid')).health.data.peers, {});
  const good = { first_seen: 1, last_seen: 2, last_ok: null, checks: 1, ok: 0, online: false, routes: { 'http://a:1': { reachable: false, latency_ms: null, last_check: 2, last_ok: null, checks: 1, ok: 0 }, 'http://b:1': { reachable: 'yes' } } };
  writeFileSync(h.peerHealth, JSON.stringify({ version: 1, peers: { good, bad: { checks: -1 }, worse: { ...good, ok: 5 } } }));
  const r = new PeerRecords(h, () => {});
  assert.deepEqual(Object.keys(r.health.data.peers), ['good']);
  assert.deepEqual(Object.keys(r.health.data.peers.good!.routes), ['http://a:1']);
});

test('sweep removes only the temp files of these records', (t) => {
  const h = home(t);
  writeFileSync(join(h.dir, '.tmp-peer_health.json.abcdef'), '{"ver');
  writeFileSync(join(h.dir, '.tmp-peer_speeds.json.abcdef'), '');
  writeFileSync(join(h.dir, '.tmp-config.json.abcdef'), '');
  const r = new PeerRecords(h, () => {});
  assert.deepEqual(r.health.data.peers, {});
  r.sweep();
  assert.deepEqual(readdirSync(h.dir).sort(), ['.tmp-config.json.abcdef']);
});
