import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { GroupSync, fsyncPath } from './wal-sync.js';
import { tempDir } from '../../test/helpers/ingest.js';

/** A flush that runs only when the test lets it finish, counting how many began. */
function gatedFlush() {
  const gates: (() => void)[] = [];
  const began: (() => void)[] = [];
  let started = 0;
  const flush = () => {
    started++;
    began.shift()?.();
    return new Promise<void>((r) => gates.push(r));
  };
  return {
    flush,
    started: () => started,
    /** Resolves when the next flush begins (or at once if one is already waiting to finish). */
    nextBegins: () => (gates.length > 0 ? Promise.resolve() : new Promise<void>((r) => began.push(r))),
    finish: () => gates.shift()!(),
  };
}

test('callers during a running flush share one more flush, which starts after it', async () => {
  const g = gatedFlush();
  const s = new GroupSync(g.flush);
  const order: string[] = [];
  const first = s.sync().then(() => order.push('first'));
  await g.nextBegins();
  assert.equal(g.started(), 1);
  // These commits landed after the running flush began: it does not cover them.
  const second = s.sync().then(() => order.push('second'));
  const third = s.sync().then(() => order.push('third'));
  assert.equal(g.started(), 1, 'no second flush while one runs');
  g.finish();
  await first;
  await g.nextBegins();
  assert.equal(g.started(), 2, 'one flush for both waiting callers');
  assert.deepEqual(order, ['first']);
  g.finish();
  await Promise.all([second, third]);
  assert.deepEqual(order, ['first', 'second', 'third']);
  // Idle again: the next caller starts its own.
  const fourth = s.sync();
  await g.nextBegins();
  assert.equal(g.started(), 3);
  g.finish();
  await fourth;
});

test('a failed flush fails its callers, and the next callers get a fresh one', async () => {
  let fail = true;
  let runs = 0;
  const s = new GroupSync(async () => {
    runs++;
    if (fail) throw new Error('EIO');
  });
  await assert.rejects(s.sync(), /EIO/);
  fail = false;
  await s.sync();
  assert.equal(runs, 2);
});

test('fsyncPath syncs an existing file and takes a missing one as nothing to do', async (t) => {
  const dir = await tempDir(t);
  const f = join(dir, 'x-wal');
  await writeFile(f, 'frames');
  await fsyncPath(f);
  await fsyncPath(join(dir, 'gone-wal'));
});
