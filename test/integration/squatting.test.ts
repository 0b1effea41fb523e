import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { startCells, pairCells } from '../helpers/cells.js';
import { addFile } from '../../src/ingest/add.js';
import { SealPool } from '../../src/ingest/pool.js';
import { chunksOf } from '../../src/ingest/files.js';
import { holdersOf } from '../../src/sync/placements.js';
import { ownerUsage, hasRef } from '../../src/store/catalog.js';

// Ownership squatting (docs/design.md "Threat model": a share recipient). Anyone who has an
// owner's ciphertext (a share recipient does) can upload it first to a holder the owner also
// uses. The holder keeps one reference per owner: the owner's later push records the owner's
// own reference, the squatter's release drops only the squatter's, and the bytes stay for as
// long as any reference is left.

test('a squatter that uploads an owner\'s object first cannot take it away from the owner', async (t) => {
  const [owner, squatter, holder] = await startCells(t, 3, { config: { replication: { factor: 1 } } });
  await pairCells(owner!, holder!);
  await pairCells(squatter!, holder!);
  const dir = await mkdtemp(join(tmpdir(), 'grove-squat-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'f.bin'), randomBytes(50_000));
  const pool = new SealPool({ workers: 1 });
  const added = await addFile({ home: owner!.cell.home, pool, now: owner!.clock.now }, join(dir, 'f.bin')).finally(() => pool.close());
  const chunk = chunksOf(owner!.cell.home.db, added.manifest_hash)[0]!.hash;
  const bytes = await owner!.cell.home.objects.get(chunk);

  // The squatter got the ciphertext (as a share recipient would) and stores it first.
  const put = await squatter!.cell.call(holder!.id, 'PUT', `/api/objects/${chunk}?kind=chunk`, { body: bytes });
  assert.equal(put.status, 200);
  assert.ok(hasRef(holder!.cell.home.db, chunk, squatter!.id));

  // The owner's round pushes it: "stored" now means the owner's reference is recorded.
  const s1 = await owner!.cell.sync.service.runNow();
  assert.deepEqual(s1.errors, []);
  assert.ok(hasRef(holder!.cell.home.db, chunk, owner!.id), 'the owner has its own reference');
  assert.ok(ownerUsage(holder!.cell.home.db, owner!.id) >= bytes.length, 'and is charged for it');
  assert.deepEqual(holdersOf(owner!.cell.home.db, chunk).map((h) => h.peer), [holder!.id]);

  // The squatter releases "its" copy: only its reference goes; the bytes stay for the owner.
  const rel = await squatter!.cell.call<{ released: string[] }>(holder!.id, 'POST', '/api/release', { json: { hashes: [chunk] } });
  assert.deepEqual(rel.data.released, [chunk]);
  assert.equal(hasRef(holder!.cell.home.db, chunk, squatter!.id), false);
  assert.ok(holder!.cell.home.objects.has(chunk), 'the bytes are still held');
  assert.equal(ownerUsage(holder!.cell.home.db, squatter!.id), 0);

  // The owner still counts a copy that really exists, and its challenges pass.
  const s2 = await owner!.cell.sync.service.runNow();
  assert.equal(s2.challenges_failed, 0);
  assert.equal(owner!.cell.status().at_risk, 0);

  // When the owner releases too, no reference is left and the object goes.
  const rel2 = await owner!.cell.call<{ released: string[] }>(holder!.id, 'POST', '/api/release', { json: { hashes: [chunk] } });
  assert.deepEqual(rel2.data.released, [chunk]);
  assert.equal(holder!.cell.home.objects.has(chunk), false);
});

test('a peer\'s inventory lists its own references, including bytes another owner stored first', async (t) => {
  const [a, b, h] = await startCells(t, 3);
  await pairCells(a!, h!);
  await pairCells(b!, h!);
  const data = randomBytes(1000);
  const hash = (await import('node:crypto')).createHash('sha256').update(data).digest('hex');
  await a!.cell.call(h!.id, 'PUT', `/api/objects/${hash}?kind=chunk`, { body: data });
  await b!.cell.call(h!.id, 'PUT', `/api/objects/${hash}?kind=chunk`, { body: data });
  const inv = async (c: typeof a) => (await c!.cell.call<{ items: { hash: string; owner: string; present: boolean }[] }>(h!.id, 'GET', '/api/inventory?since=0')).data.items;
  assert.deepEqual((await inv(a)).map((i) => [i.hash, i.owner, i.present]), [[hash, a!.id, true]]);
  assert.deepEqual((await inv(b)).map((i) => [i.hash, i.owner, i.present]), [[hash, b!.id, true]]);
});
