import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile, mkdtemp, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startCells, pairCells, type TestCell } from '../helpers/cells.js';
import { addFile } from '../../src/ingest/add.js';
import { SealPool } from '../../src/ingest/pool.js';
import { chunksOf } from '../../src/ingest/files.js';
import { holdersOf } from '../../src/sync/placements.js';
import { fetchFromPeers } from '../../src/sync/repair.js';
import { recordRemoved } from '../../src/store/catalog.js';

// A holder that acknowledged an object and lost it (or threw it away) while its catalog still
// says it holds it (docs/design.md "Threat model": a holder). The owner must find out, drop
// that placement, and place the object elsewhere: when the holder answers 404 or wrong bytes,
// and without waiting for a repair, through storage challenges in the round.

async function addOne(t: import('node:test').TestContext, c: TestCell): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'grove-lie-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'f.bin');
  await writeFile(path, randomBytes(100_000));
  const pool = new SealPool({ workers: 1 });
  try {
    const r = await addFile({ home: c.cell.home, pool, now: c.clock.now }, path);
    return [r.manifest_hash, ...chunksOf(c.cell.home.db, r.manifest_hash).map((x) => x.hash)];
  } finally {
    await pool.close();
  }
}

/** Who `owner` records as holding `hash`. */
const holders = (owner: TestCell, hash: string) => holdersOf(owner.cell.home.db, hash).map((h) => h.peer).sort();

/** Sets up a (factor 1) with peers b and c, one file placed on exactly one of them. */
async function placedOnce(t: import('node:test').TestContext) {
  const [a, b, c] = await startCells(t, 3, { config: { replication: { factor: 1 } } });
  await pairCells(a!, b!);
  await pairCells(a!, c!);
  const hashes = await addOne(t, a!);
  const s = await a!.cell.sync.service.runNow();
  assert.deepEqual(s.errors, []);
  const first = holders(a!, hashes[0]!);
  assert.equal(first.length, 1);
  const liar = [b!, c!].find((x) => x.id === first[0])!;
  const other = [b!, c!].find((x) => x.id !== first[0])!;
  // The holder loses the bytes; its catalog still claims them (its inventory keeps saying present).
  for (const h of hashes) await unlink(liar.cell.home.objects.pathOf(h));
  return { a: a!, liar, other, hashes };
}

test('a holder answering 404 during a repair loses its placement, and the next round places the object elsewhere', async (t) => {
  const { a, liar, other, hashes } = await placedOnce(t);
  const h = hashes[1]!;
  assert.ok(!other.cell.home.objects.has(h));
  // The owner's own copy is gone too, so it must fetch from the holder it recorded.
  a.cell.home.db.transaction(() => recordRemoved(a.cell.home.db, h))();
  await a.cell.home.objects.remove(h);
  const got = await fetchFromPeers({ ...a.cell.sync.fetch(), peerIds: () => [liar.id] }, h);
  assert.equal(got, undefined);
  assert.deepEqual(holders(a, h), [], 'the lost copy no longer counts');
});

test('storage challenges find a holder that threw objects away, and the same round places them on another peer', async (t) => {
  const { a, liar, other, hashes } = await placedOnce(t);
  const s = await a.cell.sync.service.runNow();
  assert.ok(s.challenged >= hashes.length, "every object was challenged (and the recovery index)");
  assert.equal(s.challenges_failed, hashes.length, 'every lost object was found');
  // The same round placed each one again, and every copy the owner now counts really exists.
  const cells = new Map([[liar.id, liar], [other.id, other]]);
  for (const h of hashes) {
    const now = holders(a, h);
    assert.equal(now.length, 1, 'placed again (factor 1)');
    assert.ok(cells.get(now[0]!)!.cell.home.objects.has(h), 'the counted holder has the bytes');
  }
  assert.equal(a.cell.status().at_risk, 0);
  // And a further round's challenges all pass.
  const again = await a.cell.sync.service.runNow();
  assert.equal(again.challenges_failed, 0);
});

test('an honest holder passes its challenges', async (t) => {
  const [a, b] = await startCells(t, 2, { config: { replication: { factor: 1 } } });
  await pairCells(a!, b!);
  await addOne(t, a!);
  await a!.cell.sync.service.runNow();
  const s = await a!.cell.sync.service.runNow();
  assert.ok(s.challenged > 0);
  assert.equal(s.challenges_failed, 0);
  assert.deepEqual(s.errors, []);
});
