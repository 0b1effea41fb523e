import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BufferRing, Limiter, TaskWindow } from './buffers.js';

test('BufferRing hands out at most `count` buffers and wakes waiters in order', async () => {
  const ring = new BufferRing(7, [new SharedArrayBuffer(8), new SharedArrayBuffer(8)]);
  assert.equal(ring.count, 2);
  assert.equal(ring.bytes, 8);
  const a = await ring.acquire();
  const b = await ring.acquire();
  assert.notEqual(a.slot, b.slot);
  assert.equal(a.ring, 7);
  const order: number[] = [];
  const w1 = ring.acquire().then((x) => { order.push(1); return x; });
  const w2 = ring.acquire().then((x) => { order.push(2); return x; });
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, []);
  ring.release(b);
  assert.equal(await w1, b);
  ring.release(a);
  assert.equal(await w2, a);
  assert.deepEqual(order, [1, 2]);
});

test('Limiter never runs more than its limit at once', async () => {
  const lim = new Limiter(2);
  let running = 0;
  let peak = 0;
  const gates: (() => void)[] = [];
  const jobs = Array.from({ length: 6 }, () => lim.run(async () => {
    running++;
    peak = Math.max(peak, running);
    await new Promise<void>((r) => gates.push(r));
    running--;
  }));
  while (gates.length || running) {
    await new Promise((r) => setImmediate(r));
    gates.shift()?.();
  }
  await Promise.all(jobs);
  assert.equal(peak, 2);
});

test('TaskWindow drains all tasks and rethrows the first error', async () => {
  const w = new TaskWindow(2);
  const done: number[] = [];
  w.start(async () => { done.push(1); });
  w.start(async () => { throw new Error('first'); });
  await w.room();
  w.start(async () => { throw new Error('second'); });
  await assert.rejects(w.drain(), /first/);
  assert.equal(w.hasFailed, true);
  assert.deepEqual(done, [1]);
});
