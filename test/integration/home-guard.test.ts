import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync, utimesSync, existsSync, statSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { startCells, restartCell } from '../helpers/cells.js';
import { runGrove, tempDir, objectFiles } from '../helpers/ingest.js';
import { CLI_ENV } from '../helpers/cli.js';
import { recordObject } from '../../src/store/catalog.js';
import { createCell } from '../../src/cell.js';
import { initHome } from '../../src/home/home.js';
import { GroveError } from '../../src/errors.js';
import { STALE_TEMP_MS } from '../../src/guard/sweep.js';

// The home itself: a lost catalog, leftovers of a killed writer, a home others can read.

test('a lost placement.db beside a full chunks/ is refused, and the objects can be set aside to rebuild', async (t) => {
  const [a] = await startCells(t, 1);
  const { home } = a!.cell;
  for (let i = 0; i < 3; i++) {
    const { hash } = await home.objects.put(randomBytes(1000));
    recordObject(home.db, { hash, size: 1000, kind: 'chunk', owner: a!.id }, Date.now());
  }
  const root = a!.root;
  await a!.cell.stop();
  for (const f of ['placement.db', 'placement.db-wal', 'placement.db-shm']) rmSync(join(root, f), { force: true });

  const r = await runGrove(root, ['start', '--port', '0', '--host', '127.0.0.1', '--dashboard-port', '0'], { env: CLI_ENV });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /^grove: placement\.db is missing or empty but .* holds 3 objects: refusing to start/);
  assert.match(r.stderr, /docs\/operations\.md/);
  assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  // Still refused on the next try (the first attempt created an empty placement.db).
  await assert.rejects(createCell({ home: root, control: false }), (e: unknown) => e instanceof GroveError && e.code === 'CONFLICT');
  assert.equal((await objectFiles(join(root, 'chunks'))).length, 3, 'nothing was touched');

  // The documented way out: set them aside (kept in trash/), start empty, rebuild from peers.
  const cell = await createCell({ home: root, control: false, setAsideObjects: true, intervals: { probeMs: 0, syncMs: 0 } });
  await cell.stop();
  assert.deepEqual(await objectFiles(join(root, 'chunks')), []);
  const aside = readdirSync(join(root, 'trash')).filter((n) => n.startsWith('chunks-'));
  assert.equal(aside.length, 1);
  assert.equal((await objectFiles(join(root, 'trash', aside[0]!))).length, 3);
});

test('temp files left by a killed writer are swept at start; recent ones are kept', async (t) => {
  const [a] = await startCells(t, 1);
  const shard = join(a!.root, 'chunks', 'ab');
  mkdirSync(shard, { recursive: true });
  const old = join(shard, `.tmp-${'ab'.padEnd(64, '0')}.dead01`);
  const fresh = join(shard, `.tmp-${'ab'.padEnd(64, '1')}.live01`);
  writeFileSync(old, randomBytes(4096));
  writeFileSync(fresh, randomBytes(4096));
  const past = (Date.now() - STALE_TEMP_MS - 60_000) / 1000;
  utimesSync(old, past, past);
  await restartCell(a!);
  assert.equal(existsSync(old), false, 'the stale temp file was removed');
  assert.equal(existsSync(fresh), true, 'a write that may be under way is left alone');
});

test('grove init makes an existing world-readable directory private', async (t) => {
  const dir = join(await tempDir(t), 'home');
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  initHome(dir, { password: 'test-password', passwordIterations: 1 });
  assert.equal(statSync(dir).mode & 0o777, 0o700);
});
