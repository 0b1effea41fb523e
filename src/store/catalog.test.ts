import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDb } from './db.js';
import { recordObject, recordObjects, recordRemoved, inventorySince, ownerUsage } from './catalog.js';
import fc from 'fast-check';
import { tempDir } from '../../test/helpers/ingest.js';

const h = (n: number) => n.toString(16).padStart(64, '0');

test('recordObjects has the same effect as recordObject on each, in order', async (t) => {
  const dir = await tempDir(t);
  const one = openDb(join(dir, 'one.db'));
  const bulk = openDb(join(dir, 'bulk.db'));
  t.after(() => { one.close(); bulk.close(); });
  const owner = 'a'.repeat(52);
  const first = [1, 2, 3].map((n) => ({ hash: h(n), size: n, kind: 'chunk' as const, owner }));
  const second = [2, 4, 4, 5].map((n) => ({ hash: h(n), size: n * 10, kind: 'chunk' as const, owner }));
  for (const batch of [first, second]) {
    let changed = 0;
    one.transaction(() => { for (const o of batch) if (recordObject(one, o, 1000)) changed++; })();
    const bulkChanged = bulk.transaction(() => recordObjects(bulk, batch, 1000))();
    assert.equal(bulkChanged, changed);
  }
  assert.deepEqual(inventorySince(bulk, 0, 100), inventorySince(one, 0, 100));
  assert.deepEqual(inventorySince(bulk, 0, 100).items.map((i) => i.seq), [1, 2, 3, 4, 5]);
  assert.equal(recordObjects(bulk, [], 1), 0);
});

test('ownerUsage (kept by triggers) always equals the sum of each owner\'s present references', async (t) => {
  const dir = await tempDir(t);
  const db = openDb(join(dir, 'usage.db'));
  t.after(() => db.close());
  const owners = ['a'.repeat(52), 'b'.repeat(52)];
  const op = fc.record({ add: fc.boolean(), n: fc.integer({ min: 1, max: 20 }), owner: fc.constantFrom(...owners), size: fc.integer({ min: 0, max: 5000 }) });
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    db.exec('DELETE FROM objects; DELETE FROM object_refs');
    for (const o of ops) {
      db.transaction(() => {
        if (o.add) recordObject(db, { hash: h(o.n), size: o.size, kind: 'chunk', owner: o.owner }, 1);
        else recordRemoved(db, h(o.n));
      })();
    }
    for (const owner of owners) {
      const sum = (db.prepare('SELECT COALESCE(SUM(size), 0) AS s FROM object_refs WHERE owner = ? AND present = 1').get(owner) as { s: number }).s;
      assert.equal(ownerUsage(db, owner), sum);
    }
  }), { numRuns: 60 });
});
