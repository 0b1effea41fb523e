import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket, Counter, GcPacer, connectionCap, parseFdLimit, FD_RESERVE } from './limits.js';
import { backoffDelay } from './link.js';

test('token bucket: a full burst passes, one byte past it waits, refills at the rate', () => {
  const b = new TokenBucket(1000, 1000, 0);
  assert.equal(b.take(1000, 0), 0);
  assert.equal(b.take(1, 0), 1); // 1 byte of debt at 1000 B/s = 1 ms
  assert.equal(b.take(500, 500), 1); // refilled 500, spent 500: still 1 byte short
  assert.equal(b.take(0, 2000), 0); // refill caps at burst
  assert.equal(b.take(1000, 2000), 0);
});

test('counter: adds up to its cap, refuses past it, frees on remove', () => {
  const c = new Counter(2);
  assert.equal(c.tryAdd('ip'), true);
  assert.equal(c.tryAdd('ip'), true);
  assert.equal(c.tryAdd('ip'), false);
  assert.equal(c.tryAdd('other'), true);
  c.remove('ip');
  assert.equal(c.tryAdd('ip'), true);
  assert.equal(c.get('ip'), 2);
});

test('connection cap stays below the file descriptor limit', () => {
  assert.equal(connectionCap(4096, 1024), 1024 - FD_RESERVE);
  assert.equal(connectionCap(100, 1024), 100);
  assert.equal(connectionCap(100, undefined), 100);
  assert.equal(connectionCap(100, 10), 0);
  assert.equal(parseFdLimit('Max open files            1024                 1048576              files\n'), 1024);
  assert.equal(parseFdLimit('Max open files            unlimited            unlimited            files\n'), undefined);
  assert.equal(parseFdLimit('nothing'), undefined);
});

test('reconnect backoff doubles to its cap with ±50 % jitter', () => {
  const t = { baseMs: 100, maxMs: 1000 };
  assert.equal(backoffDelay(0, t, () => 0.5), 100);
  assert.equal(backoffDelay(3, t, () => 0.5), 800);
  assert.equal(backoffDelay(10, t, () => 0.5), 1000);
  assert.equal(backoffDelay(10, t, () => 0), 500);
  assert.equal(backoffDelay(10, t, () => 0.999), 1499);
});

test('collections while forwarding: a young one every minorBytes, a full one every majorBytes', () => {
  const p = new GcPacer(4, 16);
  const kinds = Array.from({ length: 16 }, () => p.add(1));
  assert.deepEqual(kinds.map((k, i) => (k ? `${i + 1}:${k}` : '')).filter(Boolean), ['4:minor', '8:minor', '12:minor', '16:major']);
  assert.equal(p.add(3), undefined, 'the full one also restarts the young count');
  assert.equal(p.add(100), 'major', 'one large frame past both: the full one');
});
