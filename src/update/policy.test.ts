import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bundlesToDrop, judgeManifest, type UpdateFacts } from './policy.js';
import { parseVersion } from './version.js';
import { buildTimeFor, type ReleaseManifest } from './manifest.js';

const KEY = 'a'.repeat(52);
const HASH = 'ab'.repeat(32);

function manifest(over: Partial<ReleaseManifest> = {}): ReleaseManifest {
  return {
    format: 'grove-bundle-v1', version: '1.3.0', build_hash: HASH, build_time: buildTimeFor(HASH), size: 1000, files: 3,
    platform: 'linux', arch: 'x64', node_abi: '115', node_range: '>=20', built_with_node: '20.20.2',
    expires_at: 2_000_000, signed_by: KEY, signature: 'x', ...over,
  };
}

const facts: UpdateFacts = {
  now: 1_000_000, trustedKeys: [KEY], maxBundleBytes: 10_000, running: '1.2.0', highestAccepted: '1.2.5', bad: [],
  platform: 'linux', arch: 'x64', nodeAbi: '115',
};

test('a newer, trusted, fresh, small build for this platform is acceptable', () => {
  assert.deepEqual(judgeManifest(manifest(), facts), { ok: true });
});

test('each rule refuses with its own reason', () => {
  const reason = (m: Partial<ReleaseManifest>, f: Partial<UpdateFacts> = {}) => judgeManifest(manifest(m), { ...facts, ...f }).reason;
  assert.equal(reason({ signed_by: 'b'.repeat(52) }), 'untrusted');
  assert.equal(reason({ expires_at: facts.now }), 'expired');
  assert.equal(reason({ size: 10_001 }), 'oversized');
  assert.equal(reason({}, { bad: [HASH] }), 'bad-build');
  assert.equal(reason({ arch: 'arm64' }), 'platform');
  assert.equal(reason({ node_abi: '127' }), 'abi');
  assert.equal(reason({ version: '1.2.0' }), 'not-newer');
  assert.equal(reason({ version: '1.1.9' }), 'not-newer');
  // Newer than what runs (after a rollback) but not than the highest ever accepted: a replay.
  assert.equal(reason({ version: '1.2.5' }), 'replay');
  assert.equal(reason({ version: '1.2.3' }), 'replay');
  assert.equal(reason({ version: '2.0.0' }), 'major');
  assert.equal(judgeManifest(manifest({ version: '2.0.0' }), { ...facts, allowMajor: true }).ok, true);
});

test('retention keeps the running, the accepted and the newest offered bundles only', () => {
  const v = (s: string) => parseVersion(s)!;
  const h = (c: string) => c.repeat(64);
  const builds = [
    { hash: h('1'), version: v('1.0.0'), state: 'installed' as const },
    { hash: h('2'), version: v('1.1.0'), state: 'installed' as const },
    { hash: h('3'), version: v('1.2.0'), state: 'bad' as const },
    { hash: h('4'), version: v('1.3.0'), state: 'offered' as const },
    { hash: h('5'), version: v('1.4.0'), state: 'offered' as const },
    { hash: h('6'), version: v('1.5.0'), state: 'offered' as const },
    { hash: h('7'), version: v('1.0.5'), state: 'offered' as const },
  ];
  assert.deepEqual(bundlesToDrop(builds, { hash: h('2'), version: v('1.1.0') }, null), [h('1'), h('3'), h('4'), h('7')]);
  // An accepted build waiting for the watchdog is kept even when older offers would go.
  const accepted = builds.map((b) => (b.hash === h('4') ? { ...b, state: 'accepted' as const } : b));
  assert.deepEqual(bundlesToDrop(accepted, { hash: h('2'), version: v('1.1.0') }, h('4')), [h('1'), h('3'), h('7')]);
  // A tree not installed from a bundle (a checkout) has no hash: only the version counts.
  assert.deepEqual(bundlesToDrop(builds, { version: v('1.4.0') }, null), [h('1'), h('2'), h('3'), h('4'), h('5'), h('7')]);
});
