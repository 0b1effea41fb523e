import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { tempHome } from '../helpers/ingest.js';
import { recordObject, getObject } from '../../src/store/catalog.js';
import { collectTrash, moveToTrash, restoreFromTrash, trashPath, trimOwnerTrash } from '../../src/delete/trash.js';

// The trash on a real home: moves, restores, the per-owner cap, mark-and-sweep collection.

const OWNER = 'p'.repeat(52);

test('trash: move out of chunks/, back again, capped per owner, swept after the grace period', async (t) => {
  const { home } = await tempHome(t);
  const hashes: string[] = [];
  for (let i = 0; i < 4; i++) {
    const { hash } = await home.objects.put(randomBytes(1000));
    recordObject(home.db, { hash, size: 1000, kind: 'chunk', owner: OWNER }, 1);
    hashes.push(hash);
  }
  for (const [i, h] of hashes.entries()) assert.equal(await moveToTrash(home, h, 100 + i), true);
  assert.ok(hashes.every((h) => !home.objects.has(h) && existsSync(trashPath(home, h)) && getObject(home.db, h)!.present === 0));
  assert.equal(await moveToTrash(home, hashes[0]!, 200), false, 'not present: nothing to move');

  assert.equal(await restoreFromTrash(home, hashes[3]!, 300), true);
  assert.ok(home.objects.has(hashes[3]!) && getObject(home.db, hashes[3]!)!.present === 1);
  assert.equal((await home.objects.get(hashes[3]!)).length, 1000, 'intact');

  assert.deepEqual(await trimOwnerTrash(home, OWNER, 2000), [hashes[0]], 'the oldest goes beyond the cap');
  assert.ok(!existsSync(trashPath(home, hashes[0]!)));

  const kept = hashes[1]!;
  const r = await collectTrash(home, 101 + 50, 50, (tr) => tr.hash === kept);
  assert.deepEqual(r.restored, [kept], 'still referenced: back to chunks/');
  assert.deepEqual(r.collected, [], 'hashes[2] is not past the grace period yet');
  const r2 = await collectTrash(home, 102 + 50, 50, () => false);
  assert.deepEqual(r2.collected, [hashes[2]]);
  assert.ok(!existsSync(trashPath(home, hashes[2]!)) && !home.objects.has(hashes[2]!));
  assert.ok(home.objects.has(kept));
});
