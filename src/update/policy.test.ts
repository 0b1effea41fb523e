import { test } from 'node:test';
import assert from 'node:assert/strict';
import { judgeManifest, type UpdateFacts } from './policy.js';
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
