import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { existsSync } from 'node:fs';
import { startCells, pairCells, rawSigned, tlsFetch } from '../helpers/cells.js';
import { runGrove } from '../helpers/ingest.js';
import { smallDisk, fillDisk, freeBytes } from '../helpers/tmpfs.js';
import { startCellAt, tempFiles, sha } from '../helpers/harden.js';
import { ObjectStore } from '../../src/store/objects.js';
import { getObject } from '../../src/store/catalog.js';
import { GroveError } from '../../src/errors.js';
import { runRound } from '../../src/sync/round.js';

// A full disk (docs/protocol.md "Bounds and defences"): never a torn object, never offline.

const MiB = 1024 * 1024;
const refusedWith = (status: number, code: string) => (e: unknown) =>
  e instanceof GroveError && e.code === 'PEER_ERROR' && e.detail?.status === status && e.detail?.code === code;

test('a write that meets a full disk leaves no object and no temp file behind', async (t) => {
  const disk = await smallDisk(t, 16);
  if (!disk) return;
  const store = new ObjectStore(join(disk, 'chunks'));
  const release = await fillDisk(disk, 1 * MiB);
  const data = randomBytes(4 * MiB);
  const hash = sha(data);
  await assert.rejects(store.putStream(hash, Readable.from([data.subarray(0, 2 * MiB), data.subarray(2 * MiB)])),
    (e: unknown) => e instanceof GroveError && e.code === 'DISK_FULL');
  assert.equal(store.has(hash), false, 'no object renamed into chunks/');
  assert.deepEqual(await tempFiles(store.dir), [], 'the temp file was removed');
  await assert.rejects(store.putHashed(sha(data), data), (e: unknown) => e instanceof GroveError && e.code === 'DISK_FULL');
  assert.deepEqual(await tempFiles(store.dir), []);
  // Once there is room again, the same object is stored whole.
  await release();
  assert.equal((await store.putStream(hash, Readable.from([data]))).written, true);
  assert.equal(await store.check(hash), 'ok');
});

test('a holder out of disk refuses uploads with 507, records nothing, and stays online', async (t) => {
  const disk = await smallDisk(t, 64);
  if (!disk) return;
  const [a] = await startCells(t, 1);
  const b = await startCellAt(t, join(disk, 'home'), 'beta', { storage: { reserve_bytes: 8 * MiB } });
  await pairCells(a!, b);

  // Room above the reserve, but not for this object: 507 DISK_FULL before a byte is written.
  await fillDisk(disk, 12 * MiB);
  const data = randomBytes(4 * MiB + 16);
  const hash = sha(data);
  await assert.rejects(a!.cell.call(b.id, 'PUT', `/api/objects/${hash}`, { body: data }), refusedWith(507, 'DISK_FULL'));
  assert.equal(getObject(b.cell.home.db, hash), undefined, 'nothing recorded');
  assert.equal(b.cell.home.objects.has(hash), false);
  assert.deepEqual(await tempFiles(b.cell.home.objects.dir), []);
  const small = randomBytes(64 * 1024);
  assert.equal((await a!.cell.call(b.id, 'PUT', `/api/objects/${sha(small)}`, { body: small })).status, 200, 'what fits above the reserve is still taken');
  assert.equal(b.cell.status().disk?.state, 'nearly_full');

  // Completely full: the nonce cannot be written to placement.db, yet signed requests are answered.
  await fillDisk(disk, 0);
  assert.ok(await freeBytes(disk) < 64 * 1024);
  assert.equal((await a!.cell.call(b.id, 'GET', '/api/health')).status, 200);
  const inv = await a!.cell.call<{ objects: unknown[] }>(b.id, 'GET', '/api/inventory');
  assert.equal(inv.status, 200);
  const got = await a!.cell.call<Buffer>(b.id, 'GET', `/api/objects/${sha(small)}`);
  assert.equal(sha(got.data), sha(small), 'reads are served');
  // Replays are still refused while nonces live in memory.
  const first = await rawSigned(a!, b, 'GET', '/api/health');
  assert.equal(first.res.status, 200);
  const again = await tlsFetch(new URL('/api/health', b.url), { headers: first.headers });
  assert.equal(again.status, 401);
  await assert.rejects(a!.cell.call(b.id, 'PUT', `/api/objects/${hash}`, { body: data }), refusedWith(507, 'DISK_FULL'));
  assert.equal(b.cell.status().disk?.state, 'full');

  // The owner's round sees a full holder, not a missing one.
  const s = await runRound(a!.cell.sync.env());
  assert.equal(s.peers_reached, 1, 'the full holder is still reached');

  // `grove status` says so.
  const st = await runGrove(b.root, ['status']);
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, /disk: +FULL/);
  assert.ok(existsSync(join(b.root, 'placement.db')));
});
