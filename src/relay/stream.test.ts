import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { packFrames } from './stream.js';

// Cutting written bytes into relay frames: no frame over the bound, nothing lost or reordered,
// whole frames taken from one chunk without a copy.

test('frames: bounded, in order, nothing lost; whole frames are views of the written chunk', () => {
  const big = Buffer.alloc(10 * 1000 + 7, 1);
  const frames = packFrames([big], 1000);
  assert.deepEqual(frames.map((f) => f.length), [...Array(10).fill(1000), 7]);
  assert.equal(frames[3]!.buffer, big.buffer, 'a whole frame is a view, not a copy');
  assert.deepEqual(packFrames([], 1000), []);
  assert.deepEqual(packFrames([Buffer.alloc(0)], 1000), []);
  // Small pieces (TLS records) are joined up to the bound.
  assert.deepEqual(packFrames(Array.from({ length: 5 }, () => Buffer.alloc(300)), 1000).map((f) => f.length), [1000, 500]);
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 12 }), fc.integer({ min: 1, max: 1024 }), (parts, max) => {
    const chunks = parts.map((p) => Buffer.from(p));
    const frames = packFrames(chunks, max);
    assert.ok(frames.every((f) => f.length > 0 && f.length <= max));
    assert.ok(Buffer.concat(frames).equals(Buffer.concat(chunks)));
    // Only the last frame may be short: no needless small frames.
    assert.ok(frames.slice(0, -1).every((f) => f.length === max));
  }));
});
