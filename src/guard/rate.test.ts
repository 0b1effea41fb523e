import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RateLimiter } from './rate.js';

test('a bucket allows its burst, then one attempt per refill interval', () => {
  let now = 0;
  const r = new RateLimiter({ burst: 3, perSecond: 0.5, clock: () => now });
  assert.deepEqual([1, 2, 3, 4].map(() => r.take('a')), [true, true, true, false]);
  assert.equal(r.take('b'), true, 'another address has its own bucket');
  now += 1_000;
  assert.equal(r.take('a'), false, 'half a token is not enough');
  now += 1_000;
  assert.equal(r.take('a'), true);
  assert.equal(r.take('a'), false);
});

test('the map of addresses stays bounded', () => {
  const r = new RateLimiter({ burst: 1, perSecond: 1, maxKeys: 100, clock: () => 0 });
  for (let i = 0; i < 10_000; i++) r.take(`10.0.${i >> 8}.${i & 255}`);
  assert.equal(r.size, 100);
});
