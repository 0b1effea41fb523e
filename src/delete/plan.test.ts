import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { planDelete, type VersionObjects } from './plan.js';

test('a chunk another file or version still uses is never trashed', () => {
  const x: VersionObjects = { manifest: 'mx', chunks: ['c1', 'c2'] };
  const y: VersionObjects = { manifest: 'my', chunks: ['c2', 'c3'] };
  assert.deepEqual(planDelete([x], [y]), ['c1', 'mx']);
  assert.deepEqual(planDelete([x, y], []), ['c1', 'c2', 'c3', 'mx', 'my']);
  assert.deepEqual(planDelete([x], [x]), [], 'a version both deleted and live stays');
});

test('property: trashed = deleted objects minus live objects', () => {
  const version = fc.record({ manifest: fc.constantFrom('m1', 'm2', 'm3'), chunks: fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 4 }) });
  fc.assert(fc.property(fc.array(version, { maxLength: 4 }), fc.array(version, { maxLength: 4 }), (deleted, live) => {
    const out = new Set(planDelete(deleted, live));
    const liveSet = new Set<string>(live.flatMap((v) => [v.manifest, ...v.chunks]));
    for (const h of out) assert.ok(!liveSet.has(h));
    for (const v of deleted) for (const h of [v.manifest, ...v.chunks]) assert.equal(out.has(h), !liveSet.has(h));
  }));
});
