import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, readdir, readlink } from 'node:fs/promises';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, runGrove, waitFor } from '../helpers/ingest.js';
import { CLI_ENV, groveJson, startDaemon } from '../helpers/cli.js';
import { startWatchdog, statusOf } from '../helpers/watchdog.js';
import { makeInstallation, keygen, buildRelease, ROOT } from '../helpers/releases.js';
import { updatePaths } from '../../src/update/layout.js';
import { HEADER_BYTES } from '../../src/update/bundle.js';

// Signed peer-to-peer updates with real processes (docs/updates.md): a newer build signed by
// a trusted key spreads from A to B in a sync round, B accepts and its watchdog runs it; a
// build that crashes on start is rolled back and marked bad; refusals store nothing; the
// same tree gives the same build_hash.

const RUNNING = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const [MAJ, MIN] = RUNNING.split('.').map(Number) as [number, number, number];
const NEXT = `${MAJ}.${MIN + 1}.0`;
const AFTER = `${MAJ}.${MIN + 2}.0`;

async function newHome(t: TestContext, trusted: string[]): Promise<string> {
  const root = join(await tempDir(t, 'grove-up-'), 'home');
  assert.equal((await runGrove(root, ['init'], { env: CLI_ENV })).code, 0);
  const r = await runGrove(root, ['config', 'set', 'update.trusted_keys', trusted.join(',')], { env: CLI_ENV });
  assert.equal(r.code, 0, r.stderr);
  return root;
}

interface UpdateList { current: { version: string; build_hash: string | null }; offers: { version: string; build_hash: string; from: string; signed_by: string; state: string }[] }

function nothingStored(home: string): void {
  const p = updatePaths(home);
  if (existsSync(p.bundles)) assert.deepEqual(readdirSync(p.bundles), [], 'no bundle kept');
  assert.equal(existsSync(p.builds), false, 'nothing installed');
  if (existsSync(p.state)) assert.deepEqual(JSON.parse(readFileSync(p.state, 'utf8')).builds, {}, 'no build recorded');
}

test('a newer trusted build spreads from A to B; B runs it after acceptance; a crashing build is rolled back and marked bad', async (t) => {
  const dir = await tempDir(t, 'grove-rel-');
  const key = join(dir, 'release.key');
  const pub = await keygen(key);
  const next = await buildRelease(await makeInstallation(join(dir, 'next'), NEXT), key, join(dir, 'next.bundle'));
  assert.equal(next.version, NEXT);

  const homeA = await newHome(t, [pub]);
  const homeB = await newHome(t, [pub]);
  const imported = await groveJson<{ version: string; state: string }>(homeA, 'update', 'import', next.bundle);
  assert.deepEqual([imported.version, imported.state], [NEXT, 'offered']);

  const a = await startDaemon(t, homeA);
  const wd = startWatchdog(t, homeB);
  t.after(() => { if (process.env.GROVE_TEST_VERBOSE) t.diagnostic(wd.output().split('\n').filter((l) => !l.startsWith('{')).join('\n')); });
  const b0 = await waitFor(() => statusOf(homeB), 'B to run', 30_000, 100);
  assert.equal(b0.version, RUNNING);
  const { code } = await groveJson<{ code: string }>(homeA, 'invite');
  await groveJson(homeB, 'pair', code);

  // One sync round on B: the update exchange reads A's build info and fetches the bundle.
  await groveJson(homeB, 'sync');
  const listed = await groveJson<UpdateList>(homeB, 'update');
  assert.deepEqual(listed.current, { version: RUNNING, build_hash: null });
  assert.deepEqual(listed.offers, [{ version: NEXT, build_hash: next.build_hash, from: a.id, signed_by: pub, state: 'offered' }]);

  const acc = await groveJson<{ accepted: { build_hash: string }; restarting: boolean }>(homeB, 'update', '--accept', next.build_hash);
  assert.equal(acc.restarting, true);
  const b1 = await waitFor(async () => {
    const s = await statusOf(homeB);
    return s && s.version === NEXT ? s : undefined;
  }, `B to run ${NEXT}`, 60_000, 100);
  assert.equal(b1.build_hash, next.build_hash);
  assert.equal(b1.supervised, true);
  // The process really runs the new tree.
  const cmdline = readFileSync(`/proc/${b1.pid}/cmdline`, 'utf8');
  assert.ok(cmdline.includes(join('builds', 'current', 'bin', 'grove')) || cmdline.includes(next.build_hash), cmdline);
  assert.equal(await readlink(updatePaths(homeB).current), join(updatePaths(homeB).builds, next.build_hash));
  await waitFor(async () => (await groveJson<UpdateList>(homeB, 'update')).offers.find((o) => o.build_hash === next.build_hash)?.state === 'installed', 'probation to pass', 30_000, 200);

  // A build that crashes on start: installed, fails its probation, rolled back, marked bad.
  const broken = await buildRelease(await makeInstallation(join(dir, 'broken'), AFTER, { broken: true }), key, join(dir, 'broken.bundle'));
  await groveJson(homeB, 'update', 'import', broken.bundle);
  await groveJson(homeB, 'update', '--accept', broken.build_hash);
  const marked = await waitFor(async () => {
    const l = await groveJson<UpdateList>(homeB, 'update').catch(() => undefined);
    return l?.offers.find((o) => o.build_hash === broken.build_hash && o.state === 'bad');
  }, 'the broken build to be marked bad', 60_000, 200);
  assert.equal(marked.version, AFTER);
  const b2 = await waitFor(async () => {
    const s = await statusOf(homeB);
    return s && s.pid !== b1.pid ? s : undefined;
  }, 'B back on the previous build', 60_000, 100);
  assert.equal(b2.version, NEXT);
  assert.equal(b2.build_hash, next.build_hash);
  assert.equal(await readlink(updatePaths(homeB).current), join(updatePaths(homeB).builds, next.build_hash));
  assert.match(wd.output(), /exited during probation .*rolled back/);
  assert.match(wd.output(), /this build is broken/);
  // Never accepted again.
  const again = await runGrove(homeB, ['update', '--accept', broken.build_hash], { env: CLI_ENV });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /marked bad/);
  assert.equal(await wd.stop(), 0);
  assert.equal(await a.stop(), 0);
});

test('refusals store nothing: untrusted key, flipped byte, older or equal build, expired, oversized', async (t) => {
  const dir = await tempDir(t, 'grove-ref-');
  const key = join(dir, 'release.key');
  const other = join(dir, 'other.key');
  const pub = await keygen(key);
  await keygen(other);
  const next = await buildRelease(await makeInstallation(join(dir, 'next'), NEXT), key, join(dir, 'next.bundle'));
  const home = await newHome(t, [pub]);

  const refused = async (bundle: string, pattern: RegExp) => {
    const r = await runGrove(home, ['update', 'import', bundle], { env: CLI_ENV });
    assert.equal(r.code, 1, `${bundle} was accepted`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    nothingStored(home);
  };

  const untrusted = await buildRelease(join(dir, 'next'), other, join(dir, 'untrusted.bundle'));
  await refused(untrusted.bundle, /not in update\.trusted_keys/);

  const flipped = join(dir, 'flipped.bundle');
  const bytes = await readFile(next.bundle);
  const at = bytes.length - 1000; // inside the payload
  assert.ok(at > HEADER_BYTES + 2000);
  bytes[at] = bytes[at]! ^ 0x01;
  await writeFile(flipped, bytes);
  await refused(flipped, /does not match its build_hash/);

  const older = await buildRelease(await makeInstallation(join(dir, 'older'), '0.0.1'), key, join(dir, 'older.bundle'));
  await refused(older.bundle, /not newer than the running/);
  const same = await buildRelease(ROOT, key, join(dir, 'same.bundle'));
  await refused(same.bundle, /not newer than the running/);

  const expired = await buildRelease(join(dir, 'next'), key, join(dir, 'expired.bundle'), ['--expires', '2020-01-01T00:00:00Z']);
  await refused(expired.bundle, /expired/);

  assert.equal((await runGrove(home, ['config', 'set', 'update.max_bundle_bytes', '1000000'], { env: CLI_ENV })).code, 0);
  await refused(next.bundle, /over update\.max_bundle_bytes/);
  assert.equal((await runGrove(home, ['config', 'set', 'update.max_bundle_bytes', String(1024 ** 3)], { env: CLI_ENV })).code, 0);

  // The same good bundle is accepted once the limit allows it: the refusals above were the checks, not a broken import.
  const ok = await groveJson<{ build_hash: string; state: string }>(home, 'update', 'import', next.bundle);
  assert.deepEqual(ok, { ...ok, build_hash: next.build_hash, state: 'offered' });
  assert.deepEqual(await readdir(updatePaths(home).bundles), [`${next.build_hash}.bundle`]);
});

test('the same tree built twice gives the same build_hash and payload bytes', async (t) => {
  const dir = await tempDir(t, 'grove-det-');
  const key = join(dir, 'release.key');
  await keygen(key);
  const tree = await makeInstallation(join(dir, 'tree'), NEXT);
  const one = await buildRelease(tree, key, join(dir, 'one.bundle'));
  const two = await buildRelease(tree, key, join(dir, 'two.bundle'), ['--ttl-days', '7']);
  assert.equal(one.build_hash, two.build_hash);
  const payload = async (f: string, size: number) => (await readFile(f)).subarray(-size);
  assert.ok((await payload(one.bundle, one.size)).equals(await payload(two.bundle, two.size)));
  // A one-byte change in the tree changes the hash.
  await writeFile(join(tree, 'dist', 'src', 'build.js'), (await readFile(join(tree, 'dist', 'src', 'build.js'), 'utf8')) + '\n');
  const three = await buildRelease(tree, key, join(dir, 'three.bundle'));
  assert.notEqual(three.build_hash, one.build_hash);
});
