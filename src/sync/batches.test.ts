import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { groupPushes, BATCH_POLICY, type PushItem, type PushUnit } from './batches.js';
import { batchBodyBytes } from '../formats/batch.js';

const KiB = 1024;
const item = (n: number, peer: string, size: number, kind: PushItem['kind'] = 'chunk'): PushItem => ({ hash: n.toString(16).padStart(64, '0'), peer, kind, size });
const hashesOf = (u: PushUnit) => (u.type === 'batch' ? u.items.map((i) => i.hash) : [u.item.hash]);
const always = () => true;

test('small objects are grouped per peer in plan order; big ones and other kinds go alone', () => {
  const items = [
    item(1, 'p', 64 * KiB), item(2, 'q', 64 * KiB), item(3, 'p', 4 * 1024 * KiB), item(4, 'p', 500, 'manifest'),
    item(5, 'q', 64 * KiB), item(6, 'p', 10, 'blob'), item(7, 'p', BATCH_POLICY.maxObjectBytes),
  ];
  const units = groupPushes(items, always, { ...BATCH_POLICY, ramp: 0 });
  assert.deepEqual(units.map((u) => [u.type, u.peer, hashesOf(u).map((h) => parseInt(h, 16))]), [
    ['batch', 'p', [1, 4, 7]],
    ['batch', 'q', [2, 5]],
    ['single', 'p', [3]],
    ['single', 'p', [6]],
  ]);
});

test('a holder without batches gets every object alone; a batch of one is a single push', () => {
  const items = [item(1, 'old', 100), item(2, 'new', 100), item(3, 'old', 100)];
  const units = groupPushes(items, (p) => p !== 'old');
  assert.deepEqual(units.map((u) => u.type), ['single', 'single', 'single']);
});

test('batches stay within the object and byte bounds', () => {
  const policy = { maxObjectBytes: 10 * KiB, maxBodyBytes: 32 * KiB, maxObjects: 5, ramp: 0 };
  fc.assert(fc.property(fc.array(fc.record({ peer: fc.constantFrom('a', 'b', 'c'), size: fc.nat({ max: 12 * KiB }) }), { maxLength: 80 }), (xs) => {
    const items = xs.map((x, i) => item(i, x.peer, x.size));
    const units = groupPushes(items, always, policy);
    // Every object exactly once, to its own peer.
    const out = units.flatMap((u) => (u.type === 'batch' ? u.items : [u.item]));
    assert.deepEqual([...out].sort((p, q) => p.hash.localeCompare(q.hash)), items);
    for (const u of units) {
      if (u.type === 'single') continue;
      assert.ok(u.items.length >= 2 && u.items.length <= policy.maxObjects);
      assert.ok(batchBodyBytes(u.items.map((i) => i.size)) <= policy.maxBodyBytes);
      assert.ok(u.items.every((i) => i.peer === u.peer && i.size <= policy.maxObjectBytes));
    }
    // Per peer, objects keep their plan order across units.
    for (const p of ['a', 'b', 'c']) {
      const order = items.filter((i) => i.peer === p && i.size <= policy.maxObjectBytes).map((i) => i.hash);
      assert.deepEqual(units.filter((u) => u.peer === p).flatMap(hashesOf).filter((h) => order.includes(h)), order);
    }
  }), { numRuns: 200 });
});

test('a peer\'s first batches are small and double up to the bounds (slow start)', () => {
  const policy = { maxObjectBytes: 1024 * KiB, maxBodyBytes: 1024 * KiB, maxObjects: 64, ramp: 3 };
  const items = Array.from({ length: 300 }, (_, i) => item(i, 'p', 100));
  const sizes = groupPushes(items, always, policy).map((u) => (u.type === 'batch' ? u.items.length : 1));
  assert.deepEqual(sizes, [8, 16, 32, 64, 64, 64, 52]);
  // Bytes ramp the same way: the first batch takes 1/8 of 1 MiB.
  const big = Array.from({ length: 40 }, (_, i) => item(i, 'p', 60 * KiB));
  assert.deepEqual(groupPushes(big, always, policy).map((u) => (u.type === 'batch' ? u.items.length : 1)).slice(0, 3), [2, 4, 8]);
});
