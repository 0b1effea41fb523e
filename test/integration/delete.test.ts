import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startCells, pairCells, rawSigned, type TestCell } from '../helpers/cells.js';
import { tempDir, runGrove } from '../helpers/ingest.js';
import { CLI_ENV, groveJson } from '../helpers/cli.js';
import { addFile } from '../../src/ingest/add.js';
import { SealPool } from '../../src/ingest/pool.js';
import { chunksOf, latestVersion } from '../../src/ingest/files.js';
import { signDeleteRequest } from '../../src/delete/request.js';
import { trashPath } from '../../src/delete/trash.js';
import { getObject } from '../../src/store/catalog.js';
import { openIndex, openIndexPage } from '../../src/formats/file-index.js';

// Signed deletes over three real cells (docs/delete.md): alpha owns the files, beta and
// gamma hold copies (replication factor 2).

const GRACE_S = 3600;

async function add(c: TestCell, path: string, data: Buffer) {
  await writeFile(path, data);
  const pool = new SealPool();
  try {
    return await addFile({ home: c.cell.home, pool, now: c.clock.now }, path);
  } finally {
    await pool.close();
  }
}

const objectsOf = (c: TestCell, manifest: string) => [manifest, ...chunksOf(c.cell.home.db, manifest).map((x) => x.hash)];
const has = (c: TestCell, hash: string) => c.cell.home.objects.has(hash);
const inTrash = (c: TestCell, hash: string) => c.cell.home.db.prepare('SELECT 1 FROM trash WHERE hash = ?').get(hash) !== undefined;

async function deleteRaw(from: TestCell, to: TestCell, body: unknown) {
  const { res } = await rawSigned(from, to, 'POST', '/api/delete', { body: Buffer.from(JSON.stringify(body)), contentType: 'application/json' });
  return { status: res.status, body: await res.json() as { trashed?: string[]; refused?: { hash: string; reason: string }[]; error?: string } };
}

test('signed deletes: holders trash, shared chunks survive, forgeries and replays are refused, undelete, collection, the breaker', async (t) => {
  const [a, b, g] = await startCells(t, 3, { config: { delete: { grace_s: GRACE_S, confirm_over: 3 } } });
  await pairCells(a!, b!);
  await pairCells(a!, g!);
  await pairCells(b!, g!); // so beta can even try to delete at gamma
  const dir = await tempDir(t, 'grove-delete-');
  const same = randomBytes(300 * 1024);
  const x = await add(a!, join(dir, 'x.bin'), same);
  const y = await add(a!, join(dir, 'copy-of-x.bin'), same); // same content: the same chunks
  const z = await add(a!, join(dir, 'z.bin'), randomBytes(10 * 1024));
  await a!.cell.sync.service.runNow();
  const xObjs = objectsOf(a!, x.manifest_hash);
  const sharedChunk = xObjs[1]!;
  assert.deepEqual(objectsOf(a!, y.manifest_hash).slice(1), xObjs.slice(1), 'the copy shares its chunks');
  for (const c of [b!, g!]) for (const h of [...xObjs, y.manifest_hash, ...objectsOf(a!, z.manifest_hash)]) assert.ok(has(c, h), `${c.name} holds ${h}`);

  // 1. Delete x: its manifest goes to every holder's trash; the chunk y still uses stays everywhere.
  const del = await groveJson<{ files: { path: string }[]; holders: { peer: string; trashed: number; refused: number }[] }>(a!.root, 'delete', x.path);
  assert.deepEqual(del.files.map((f) => f.path), [x.path]);
  assert.deepEqual(del.holders.map((h) => [h.peer, h.trashed, h.refused]).sort(), [[b!.id, 1, 0], [g!.id, 1, 0]].sort());
  assert.equal(latestVersion(a!.cell.home.db, x.path), undefined, 'gone from the catalog');
  for (const c of [a!, b!, g!]) {
    assert.ok(!has(c, x.manifest_hash) && inTrash(c, x.manifest_hash), `${c.name}: manifest in the trash, out of chunks/`);
    assert.ok(has(c, sharedChunk) && !inTrash(c, sharedChunk), `${c.name}: the shared chunk survives`);
  }
  // The recovery index knows: after the next round, the index the holders keep for a
  // restore lists y but not x.
  await a!.cell.sync.service.runNow();
  const ptr = b!.cell.home.db.prepare('SELECT hash FROM index_pointers WHERE owner = ?').get(a!.id) as { hash: string };
  const idx = openIndex(a!.cell.home.keys.master, a!.id, await b!.cell.home.objects.get(ptr.hash));
  const files: { path: string }[] = [];
  for (const page of (idx.files as { pages: string[] }).pages) {
    files.push(...(openIndexPage(a!.cell.home.keys.master, a!.id, 'files', await b!.cell.home.objects.get(page)) as { path: string }[]));
  }
  assert.deepEqual(files.map((f) => f.path).sort(), [y.path, z.path].sort());
  const trash = await groveJson<{ files: { path: string; expires_at: number; deleted_at: number }[] }>(a!.root, 'trash');
  assert.deepEqual(trash.files.map((f) => f.path), [x.path]);
  assert.equal(trash.files[0]!.expires_at - trash.files[0]!.deleted_at, GRACE_S * 1000);

  // 2. Forgeries: only the owner, only its signature, only to the holder it names.
  const zChunk = objectsOf(a!, z.manifest_hash)[1]!;
  const now = g!.clock.now();
  const byBeta = signDeleteRequest(b!.cell.home.keys.identity.privateKey, { owner: b!.id, holder: g!.id, seq: 1, created_at: now, manifests: [], objects: [zChunk] });
  let r = await deleteRaw(b!, g!, byBeta);
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.refused, [{ hash: zChunk, reason: 'not-owner' }], 'a non-owner cannot delete alpha\'s objects');
  const claimsAlpha = signDeleteRequest(b!.cell.home.keys.identity.privateKey, { owner: a!.id, holder: g!.id, seq: 10, created_at: now, manifests: [], objects: [zChunk] });
  assert.equal((await deleteRaw(b!, g!, claimsAlpha)).status, 403, 'sent by someone other than the owner');
  assert.equal((await deleteRaw(a!, g!, claimsAlpha)).status, 401, 'signed by someone other than the owner');
  const forBeta = signDeleteRequest(a!.cell.home.keys.identity.privateKey, { owner: a!.id, holder: b!.id, seq: 10, created_at: now, manifests: [], objects: [zChunk] });
  assert.equal((await deleteRaw(a!, g!, forBeta)).status, 403, 'addressed to another holder');
  assert.ok(has(g!, zChunk), 'nothing was deleted by any of these');

  // 3. Replays: the same signed request twice (fresh transport nonces), or an older sequence number.
  const probe = randomBytes(32).toString('hex');
  const once = signDeleteRequest(a!.cell.home.keys.identity.privateKey, { owner: a!.id, holder: g!.id, seq: a!.clock.now(), created_at: now, manifests: [], objects: [probe] });
  assert.equal((await deleteRaw(a!, g!, once)).status, 200);
  assert.equal((await deleteRaw(a!, g!, once)).status, 409, 'replayed');
  const older = signDeleteRequest(a!.cell.home.keys.identity.privateKey, { owner: a!.id, holder: g!.id, seq: once.seq - 1, created_at: now, manifests: [], objects: [zChunk] });
  assert.equal((await deleteRaw(a!, g!, older)).status, 409, 'an older sequence number');
  assert.ok(has(g!, zChunk));

  // 4. A delete does not remove a file added again later: z is deleted, added again, and
  //    re-placed; a request created before the re-put is refused for those objects.
  const before = a!.clock.now();
  await groveJson(a!.root, 'delete', z.path);
  assert.ok(!has(g!, zChunk) && inTrash(g!, zChunk));
  // The holders' clocks move on, so the re-put is clearly after `before`.
  for (const c of [a!, b!, g!]) c.clock.advance(2_000);
  const z2 = await add(a!, z.path, await readFile(z.path));
  assert.equal(objectsOf(a!, z2.manifest_hash)[1], zChunk, 'same content, same chunk');
  await a!.cell.sync.service.runNow();
  assert.ok(has(g!, zChunk), 'placed again on gamma');
  const stale = signDeleteRequest(a!.cell.home.keys.identity.privateKey, { owner: a!.id, holder: g!.id, seq: a!.clock.now(), created_at: before, manifests: [], objects: [zChunk] });
  r = await deleteRaw(a!, g!, stale);
  assert.deepEqual(r.body.refused, [{ hash: zChunk, reason: 'put-after-request' }]);
  assert.ok(has(g!, zChunk), 'the file added again survives');

  // 5. Undelete within the grace period, from the holders' trash when ours is gone.
  await groveJson(a!.root, 'delete', y.path);
  for (const c of [a!, b!, g!]) assert.ok(!has(c, sharedChunk) && inTrash(c, sharedChunk), `${c.name}: last user gone, the chunk is trashed`);
  for (const h of objectsOf(a!, y.manifest_hash)) { // as if this cell had collected its trash already
    await rm(trashPath(a!.cell.home, h));
    a!.cell.home.db.prepare('DELETE FROM trash WHERE hash = ?').run(h);
  }
  const back = await groveJson<{ path: string; versions: number[]; from_holders: number }>(a!.root, 'undelete', y.path);
  assert.deepEqual([back.path, back.versions], [y.path, [1]]);
  assert.ok(back.from_holders >= 2, 'manifest and chunk came from the holders');
  const out = join(dir, 'restored.bin');
  await groveJson(a!.root, 'get', y.path, '-o', out);
  assert.deepEqual(await readFile(out), same, 'byte-identical');
  for (const c of [b!, g!]) assert.ok(has(c, sharedChunk) && !inTrash(c, sharedChunk), `${c.name}: restored from its trash`);

  // 6. Collection after the grace period: x's manifest goes for good; the chunk y uses again stays.
  for (const c of [b!, g!]) {
    c.clock.advance(GRACE_S * 1000 + 1000);
    const col = await c.cell.deletes.collect();
    assert.ok(col.collected.includes(x.manifest_hash), `${c.name} collected x's manifest`);
    assert.ok(!inTrash(c, x.manifest_hash) && !has(c, x.manifest_hash));
    assert.ok(has(c, sharedChunk), `${c.name}: the chunk still referenced is kept`);
    assert.equal(getObject(c.cell.home.db, sharedChunk)?.present, 1);
    c.clock.advance(-(GRACE_S * 1000 + 1000));
  }

  // 7. The breaker: more than delete.confirm_over (3) files at once needs --yes.
  const many = join(dir, 'many');
  await mkdir(many);
  for (let i = 0; i < 4; i++) await add(a!, join(many, `f${i}.txt`), Buffer.from(`file ${i}`));
  const refused = await runGrove(a!.root, ['delete', many], { env: CLI_ENV });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /would delete 4 files .*--yes/);
  assert.ok(latestVersion(a!.cell.home.db, join(many, 'f0.txt')), 'nothing deleted without --yes');
  const yes = await groveJson<{ files: unknown[] }>(a!.root, 'delete', many, '--yes');
  assert.equal(yes.files.length, 4);
});
