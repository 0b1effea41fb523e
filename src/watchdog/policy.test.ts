import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, shouldGiveUp, DEFAULT_RESTART_POLICY as P } from './policy.js';

test('backoff starts at 1 s, doubles, caps at 60 s', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7, 50].map((n) => backoffMs(n, P)), [0, 1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000]);
});

test('gives up at the 5th crash within 60 s, not when they are spread out', () => {
  const now = 1_000_000;
  assert.equal(shouldGiveUp([now - 50_000, now - 40_000, now - 30_000, now - 1000], now, P), false);
  assert.equal(shouldGiveUp([now - 50_000, now - 40_000, now - 30_000, now - 1000, now], now, P), true);
  assert.equal(shouldGiveUp([now - 70_000, now - 40_000, now - 30_000, now - 1000, now], now, P), false);
});
