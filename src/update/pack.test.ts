import { test } from 'node:test';
import assert from 'node:assert/strict';
import { collectInstallation, productionPackages } from './pack.js';
import { INSTALL_ROOT } from './running.js';

test('productionPackages keeps lockfile entries without dev, nested ones included', () => {
  const lock = { packages: { '': {}, 'node_modules/a': {}, 'node_modules/b': { dev: true }, 'node_modules/a/node_modules/c': {}, 'node_modules/l': { link: true } } };
  assert.deepEqual(productionPackages(lock), ['node_modules/a', 'node_modules/a/node_modules/c']);
});

test('this installation packs its native SQLite binding but not its sources or build leftovers', async () => {
  const { files } = await collectInstallation(INSTALL_ROOT);
  const paths = files.map((f) => f.path);
  assert.ok(paths.includes('node_modules/better-sqlite3/build/Release/better_sqlite3.node'));
  assert.ok(paths.includes('node_modules/better-sqlite3/lib/index.js'));
  assert.ok(paths.includes('dist/src/cli/main.js') && paths.includes('bin/grove') && paths.includes('package-lock.json'));
  assert.ok(!paths.some((p) => p.startsWith('node_modules/better-sqlite3/deps/') || p.includes('/obj.target/') || p.startsWith('node_modules/typescript/')));
  assert.ok(files.find((f) => f.path === 'bin/grove')!.executable);
  assert.deepEqual([...paths].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))), paths, 'payload order');
});

test('a bundle is never renamed over something that is not a regular file', async () => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { generateEd25519 } = await import('../crypto/keys.js');
  const { buildBundle } = await import('./pack.js');
  const dir = await mkdtemp(`${tmpdir()}/grove-pack-`);
  try {
    await assert.rejects(buildBundle({ from: INSTALL_ROOT, key: generateEd25519().privateKey, out: dir, now: 0, ttlMs: 1 }), /not a regular file/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
