import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { writeFile, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runGrove, waitFor, tempDir } from '../helpers/ingest.js';
import { CLI_ENV, groveJson } from '../helpers/cli.js';
import { createNat, groveInNamespace, natUnavailable, startInNamespace, tcpConnectFrom, type Nat } from '../helpers/netns.js';

// A cell behind a real NAT: network namespaces inner --veth-- nat (MASQUERADE, forwarding
// on, connections from outside refused) --veth-- outer, where the other cell and a real
// `grove relay` process listen. The inner cell accepts no connection from outside at all; it
// is paired with (it is the inviter), shared with, chatted with and replicated to through
// the relay, and its own calls go out through the NAT. Needs root, `ip` and `iptables`
// (.ci/run installs them); skipped with the reason otherwise.

const skip = natUnavailable();
if (skip) process.stderr.write(`nat.test: skipped: ${skip}\n`);

const API_PORT = 7420;
const RELAY_PORT = 7430;

function grove(home: string, ...args: string[]) {
  return runGrove(home, args, { env: CLI_ENV });
}

async function startRelayIn(t: TestContext, ns: string, host: string): Promise<{ child: ChildProcess; url: string }> {
  const { child, first } = await groveInNamespace(t, ns, ['--json', 'relay', '--host', host, '--port', String(RELAY_PORT)], { GROVE_RELAY_LOG: 'warn' });
  return { child, url: (JSON.parse(first) as { url: string }).url };
}

async function fileCount(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) if (e.isFile()) n++;
  return n;
}

async function initHome(dir: string, name: string, config: [string, string][]): Promise<string> {
  const home = join(dir, name);
  assert.equal((await grove(home, 'init', '--name', name)).code, 0);
  for (const [k, v] of [['mdns.enabled', 'false'], ...config]) assert.equal((await grove(home, 'config', 'set', k!, v!)).code, 0);
  return home;
}

/** Connections from outside the NAT to the inner cell fail; from inside, and outwards, they work. */
function assertNatHolds(nat: Nat): void {
  assert.equal(tcpConnectFrom(nat.inner, nat.innerAddress, API_PORT), 'CONNECTED', 'the inner cell listens (seen from its own host)');
  assert.equal(tcpConnectFrom(nat.inner, nat.outerAddress, API_PORT), 'CONNECTED', 'the inner host reaches the outer cell through the NAT');
  for (const target of [nat.innerAddress, nat.natAddress]) {
    const r = tcpConnectFrom(nat.outer, target, API_PORT);
    assert.notEqual(r, 'CONNECTED', `the outer host opened a connection to ${target}:${API_PORT}`);
    assert.match(r, /^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|TIMEOUT)$/);
  }
}

test('a cell behind NAT (MASQUERADE, nothing forwarded in) is paired, shared with, chatted with and replicated to through a real relay', { skip, timeout: 300_000 }, async (t) => {
  const nat = createNat(t);
  const dir = await tempDir(t, 'grove-nat-');
  const relayUrl = `ws://${nat.outerAddress}:${RELAY_PORT}`;
  const A = await initHome(dir, 'alpha', []);
  const B = await initHome(dir, 'beta', [['relay.urls', relayUrl]]);

  const relay = await startRelayIn(t, nat.outer, nat.outerAddress);
  assert.equal(relay.url, relayUrl);
  const a = await startInNamespace(t, nat.outer, A, API_PORT, nat.outerAddress);
  const b = await startInNamespace(t, nat.inner, B, API_PORT, nat.innerAddress);
  assertNatHolds(nat);
  const relayRoute = `relay+ws://${nat.outerAddress}:${RELAY_PORT}/${b.id}`;
  const directRoute = `https://${nat.innerAddress}:${API_PORT}`;

  // Pairing: beta, behind the NAT, is the inviter; its invite names its private address
  // (refused by the NAT) and its relay route, which answers once beta's link is up.
  const { code } = await groveJson<{ code: string; routes: string[] }>(B, 'invite');
  const paired = await waitFor(async () => {
    const r = await grove(A, '--json', 'pair', code);
    return r.code === 0 ? JSON.parse(r.stdout) as { id: string; routes: string[] } : undefined;
  }, 'pairing through the relay', 60_000, 250);
  assert.equal(paired.id, b.id);
  assert.deepEqual([...paired.routes].sort(), [directRoute, relayRoute].sort());

  const peers = await groveJson<{ peers: { id: string; best_route: string; online: boolean; routes: { url: string; kind: string; error: string | null }[] }[] }>(A, 'peers', '--probe');
  const beta = peers.peers.find((p) => p.id === b.id)!;
  assert.equal(beta.online, true);
  assert.equal(beta.best_route, relayRoute);
  assert.equal(beta.routes.find((r) => r.url === relayRoute)!.kind, 'relay');
  assert.ok(beta.routes.find((r) => r.url === directRoute)!.error, 'the direct route through the NAT says why it failed');

  // Share and chat: alpha reaches beta through the relay; beta answers alpha directly, out through the NAT.
  const src = join(dir, 'quarterly-secret-report.pdf');
  const doc = randomBytes(3 * 1024 * 1024);
  await writeFile(src, doc);
  assert.equal((await grove(A, 'add', src)).code, 0);
  const shared = await groveJson<{ grants: { delivered: boolean }[] }>(A, 'share', 'quarterly-secret-report.pdf', 'beta');
  assert.equal(shared.grants[0]!.delivered, true);
  const feed = await groveJson<{ items: { filename: string }[] }>(B, 'feed');
  assert.deepEqual(feed.items.map((i) => i.filename), ['quarterly-secret-report.pdf']);
  const out = join(dir, 'copy.pdf');
  const got = await grove(B, 'get', 'quarterly-secret-report.pdf', '--out', out);
  assert.equal(got.code, 0, got.stderr);
  assert.ok((await readFile(out)).equals(doc), 'beta restored the shared file');
  assert.equal((await groveJson<{ message: { delivered: boolean } }>(A, 'chat', 'beta', 'the eagle lands at noon')).message.delivered, true);
  assert.equal((await groveJson<{ message: { delivered: boolean } }>(B, 'chat', 'alpha', 'copy that, over')).message.delivered, true);
  const convo = await groveJson<{ messages: { text: string }[] }>(B, 'chat', 'alpha');
  assert.deepEqual(convo.messages.map((m) => m.text), ['the eagle lands at noon', 'copy that, over']);

  // Replication: alpha's round places its objects on beta, through the relay.
  const big = join(dir, 'big.bin');
  await writeFile(big, randomBytes(16 * 1024 * 1024));
  assert.equal((await grove(A, 'add', big)).code, 0);
  const before = await fileCount(join(B, 'chunks'));
  const round = await groveJson<{ errors: unknown[]; pushed: number }>(A, 'sync');
  assert.deepEqual(round.errors, []);
  assert.ok(round.pushed >= 4, `the round pushed ${round.pushed} objects`);
  assert.ok((await fileCount(join(B, 'chunks'))) >= before + 4, 'beta holds alpha\'s objects');
  for (const home of [A, B]) {
    const v = await groveJson<{ corrupt: unknown[]; missing: unknown[] }>(home, 'verify');
    assert.deepEqual([v.corrupt, v.missing], [[], []], `verify clean on ${home}`);
  }

  // Nothing came in past the NAT: still no direct connection from outside, while beta's own
  // connections (to the relay, to alpha) were masqueraded and alpha's direct attempts refused.
  assertNatHolds(nat);
  const c = nat.counters();
  assert.ok(c.masqueraded > 0, 'beta\'s outbound connections went through MASQUERADE');
  assert.ok(c.refused > 0, 'alpha\'s attempts at the direct route were refused by the NAT');
  await Promise.all([a, b].map(async (d) => { d.child.kill('SIGTERM'); await once(d.child, 'exit'); }));
});
