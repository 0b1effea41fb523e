import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Loop } from './loop.js';

const log = pino({ level: 'silent' });

test('a loop runs at start, never overlaps, survives errors, and stop() waits for the pass', async () => {
  let active = 0;
  let maxActive = 0;
  let calls = 0;
  let release: () => void = () => {};
  const loop = new Loop({
    name: 't',
    intervalMs: 0,
    run: async (signal) => {
      calls++;
      active++;
      maxActive = Math.max(maxActive, active);
      try {
        if (calls === 2) throw new Error('boom');
        if (calls === 3) await new Promise<void>((r) => { release = r; signal.addEventListener('abort', () => r()); });
      } finally {
        active--;
      }
    },
  }, log);
  loop.start();
  const deadline = Date.now() + 5000;
  while (calls < 3 && Date.now() < deadline) await new Promise((r) => setImmediate(r));
  assert.equal(calls, 3, 'ran again after a failing pass');
  const now = loop.runNow(); // waits for the pass in flight, then runs one more
  release();
  await now;
  assert.equal(calls, 4);
  await loop.stop();
  const after = calls;
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); // an interval of 0 would have run by now
  assert.equal(calls, after, 'no pass after stop');
  assert.equal(maxActive, 1);
});

test('runNow rethrows the failure of the pass it ran', async () => {
  const loop = new Loop({ name: 'f', intervalMs: 1000, run: async () => { throw new Error('nope'); } }, log);
  await assert.rejects(loop.runNow(), /nope/);
});
