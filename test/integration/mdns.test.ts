import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempDir, runGrove, waitFor } from '../helpers/ingest.js';
import { CLI_ENV, groveJson } from '../helpers/cli.js';
import { createLan, netnsUnavailable, startInNamespace } from '../helpers/netns.js';

// mDNS discovery between cells on separate hosts (network namespaces joined by a bridge):
// a paired peer is found again by mDNS; an unpaired cell is only "nearby" (docs/discovery.md).

const skip = netnsUnavailable();
if (skip) process.stderr.write(`mdns.test: skipped: ${skip}\n`);

interface PeersJson { peers: { id: string; online: boolean; routes: { url: string; kind: string }[] }[] }
interface NearbyJson { nearby: { id: string; name: string; addresses: string[] }[] }

async function initHome(dir: string, name: string): Promise<string> {
  const home = join(dir, name);
  const r = await runGrove(home, ['init', '--name', name], { env: CLI_ENV });
  assert.equal(r.code, 0, r.stderr);
  for (const [k, v] of [['mdns.interval_s', '1'], ['log.level', 'debug']]) {
    assert.equal((await runGrove(home, ['config', 'set', k!, v!], { env: CLI_ENV })).code, 0);
  }
  return home;
}

test('mDNS: a paired peer whose routes were removed is found again; an unpaired cell is only nearby', { skip }, async (t) => {
  const lan = createLan(t, 3);
  const dir = await tempDir(t, 'grove-mdns-');
  const [ha, hb, hc] = await Promise.all(['alpha', 'beta', 'gamma'].map((n) => initHome(dir, n)));
  const a = await startInNamespace(t, lan.hosts[0]!, ha!);
  const b = await startInNamespace(t, lan.hosts[1]!, hb!);
  const c = await startInNamespace(t, lan.hosts[2]!, hc!);

  const { code } = await groveJson<{ code: string }>(ha!, 'invite');
  await groveJson(hb!, 'pair', code);
  const urlA = `https://${lan.addresses[0]}:7420`;
  let peers = await groveJson<PeersJson>(hb!, 'peers');
  assert.deepEqual(peers.peers.map((p) => p.id), [a.id]);
  assert.ok(peers.peers[0]!.routes.some((r) => r.url === urlA), 'paired through the invite route');

  // Remove every route beta has for alpha: only mDNS can bring alpha back.
  for (const r of peers.peers[0]!.routes) {
    assert.equal((await runGrove(hb!, ['route', 'rm', a.id, r.url], { env: CLI_ENV })).code, 0);
  }
  peers = await groveJson<PeersJson>(hb!, 'peers');
  assert.equal(peers.peers[0]!.routes.filter((r) => r.kind !== 'mdns').length, 0);

  const back = await waitFor(async () => {
    const p = (await groveJson<PeersJson>(hb!, 'peers')).peers[0]!;
    return p.online && p.routes.some((r) => r.url === urlA && r.kind === 'mdns') ? p : undefined;
  }, 'alpha found again by mDNS and online', 30_000, 250);
  assert.equal(back.id, a.id);

  // gamma is nearby for both, never a peer; beta is paired with alpha, so not "nearby" there.
  const nearB = await waitFor(async () => {
    const n = await groveJson<NearbyJson>(hb!, 'peers', '--nearby');
    return n.nearby.some((x) => x.id === c.id) ? n : undefined;
  }, 'gamma nearby beta', 30_000, 250);
  assert.deepEqual(nearB.nearby.find((x) => x.id === c.id), { id: c.id, name: '', addresses: [`https://${lan.addresses[2]}:7420`] });
  assert.ok(!nearB.nearby.some((x) => x.id === a.id), 'a paired peer is not listed as nearby');
  const nearA = await waitFor(async () => {
    const n = await groveJson<NearbyJson>(ha!, 'peers', '--nearby');
    return n.nearby.some((x) => x.id === c.id) ? n : undefined;
  }, 'gamma nearby alpha', 30_000, 250);
  assert.ok(!nearA.nearby.some((x) => x.id === b.id));
  for (const h of [ha!, hb!]) {
    assert.ok(!(await groveJson<PeersJson>(h, 'peers')).peers.some((p) => p.id === c.id), 'nothing is paired automatically');
  }
  assert.deepEqual((await groveJson<PeersJson>(hc!, 'peers')).peers, []);
});
