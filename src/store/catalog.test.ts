import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { openDb } from './db.js';
import { MIGRATIONS } from './migrations.js';
import { recordObject, recordObjects, recordRemoved, inventorySince, ownerUsage, objectTotals } from './catalog.js';
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

test('objectTotals (kept by triggers) always equals the count and bytes of the present objects', async (t) => {
  const dir = await tempDir(t);
  const db = openDb(join(dir, 'totals.db'));
  t.after(() => db.close());
  const owners = ['a'.repeat(52), 'b'.repeat(52)];
  const op = fc.record({ op: fc.constantFrom('add', 'remove', 'delete'), n: fc.integer({ min: 1, max: 20 }), owner: fc.constantFrom(...owners), size: fc.integer({ min: 0, max: 5000 }) });
  fc.assert(fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
    db.exec('DELETE FROM objects; DELETE FROM object_refs');
    for (const o of ops) {
      db.transaction(() => {
        if (o.op === 'add') recordObject(db, { hash: h(o.n), size: o.size, kind: 'chunk', owner: o.owner }, 1);
        else if (o.op === 'remove') recordRemoved(db, h(o.n));
        else db.prepare('DELETE FROM objects WHERE hash = ?').run(h(o.n));
      })();
    }
    const want = db.prepare('SELECT COUNT(*) AS objects, COALESCE(SUM(size), 0) AS bytes FROM objects WHERE present = 1').get();
    assert.deepEqual(objectTotals(db), want);
  }), { numRuns: 60 });
});

test('the totals start from the objects already recorded when the migration runs', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'old.db');
  const old = openDb(path, { migrations: MIGRATIONS.filter((m) => m.version < 46) });
  old.transaction(() => {
    recordObjects(old, [1, 2, 3].map((n) => ({ hash: h(n), size: n * 100, kind: 'chunk' as const, owner: 'a'.repeat(52) })), 1);
    recordRemoved(old, h(2));
  })();
  old.close();
  const db = openDb(path);
  t.after(() => db.close());
  assert.deepEqual(objectTotals(db), { objects: 2, bytes: 400 });
});
