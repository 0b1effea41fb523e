import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { openDb } from '../store/db.js';
import { ObjectStore } from '../store/objects.js';
import { markAddRunning, sweepAfterInterruptedAdds } from './interrupted.js';
import { tempDir } from '../../test/helpers/ingest.js';

async function setup(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const db = openDb(join(dir, 'placement.db'));
  t.after(() => db.close());
  const objects = new ObjectStore(join(dir, 'chunks'));
  mkdirSync(join(dir, 'chunks', 'ab'), { recursive: true });
  const temp = (name: string) => {
    const p = join(dir, 'chunks', 'ab', `.tmp-${'ab'.padEnd(64, '0')}.${name}`);
    writeFileSync(p, 'partial');
    return p;
  };
  return { db, objects, temp };
}

test('an add sweeps nothing unless an earlier add died: no shard is listed', async (t) => {
  const { db, objects, temp } = await setup(t);
  const left = temp('left');
  assert.equal(await sweepAfterInterruptedAdds(db, objects, { alive: () => false }), 0, 'no add ran');
  const done = markAddRunning(db, 4242, 1);
  assert.equal(await sweepAfterInterruptedAdds(db, objects, { alive: () => true }), 0, 'that add still runs');
  assert.equal(await sweepAfterInterruptedAdds(db, objects, { alive: () => false, self: 4242 }), 0, 'this process is no other add');
  done();
  assert.equal(await sweepAfterInterruptedAdds(db, objects, { alive: () => false }), 0, 'it finished: nothing to sweep');
  assert.ok(existsSync(left));
});

test('after an add died, the next add sweeps the temp files once', async (t) => {
  const { db, objects, temp } = await setup(t);
  markAddRunning(db, 4242, 1); // never unmarked: killed
  const a = temp('a');
  const b = temp('b');
  assert.equal(await sweepAfterInterruptedAdds(db, objects, { alive: (pid) => pid !== 4242 }), 2);
  assert.ok(!existsSync(a) && !existsSync(b));
  const later = temp('later');
  assert.equal(await sweepAfterInterruptedAdds(db, objects, { alive: () => false }), 0, 'its record went with the sweep');
  assert.ok(existsSync(later));
});
