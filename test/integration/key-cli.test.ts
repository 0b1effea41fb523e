import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempDir, runGrove } from '../helpers/ingest.js';
import { homePaths } from '../../src/home/paths.js';

// `grove key export|import` through the executable, at the real scrypt cost (N = 2^17).

const env = { GROVE_PASSPHRASE: 'a long test passphrase', GROVE_DASHBOARD_PASSWORD: 'test-password' };

test('export, then import into a new home: same identity and master key; files come back', async (t) => {
  const dir = await tempDir(t);
  const a = join(dir, 'a');
  assert.equal((await runGrove(a, ['init'], { env })).code, 0);
  const file = join(dir, 'f.txt');
  await writeFile(file, 'kept');
  const id = JSON.parse((await runGrove(a, ['--json', 'id'])).stdout) as { id: string };
  const bundle = join(dir, 'backup.grove');
  const ex = await runGrove(a, ['--json', 'key', 'export', '--out', bundle], { env });
  assert.equal(ex.code, 0, ex.stderr);
  assert.deepEqual(JSON.parse(ex.stdout), { id: id.id, out: bundle });
  assert.equal((await stat(bundle)).mode & 0o777, 0o600);
  assert.equal((await runGrove(a, ['key', 'export', '--out', bundle], { env })).code, 1, 'no silent overwrite');

  const b = join(dir, 'b');
  const wrong = await runGrove(b, ['key', 'import', bundle], { env: { ...env, GROVE_PASSPHRASE: 'not the passphrase' } });
  assert.equal(wrong.code, 1);
  assert.equal(wrong.stderr, 'grove: wrong passphrase, or the key bundle is damaged\n');

  const im = await runGrove(b, ['--json', 'key', 'import', bundle], { env });
  assert.equal(im.code, 0, im.stderr);
  assert.equal((JSON.parse(im.stdout) as { id: string }).id, id.id);
  assert.equal(JSON.parse((await runGrove(b, ['--json', 'id'])).stdout).id, id.id);
  for (const k of ['masterKey', 'nodeKey', 'x25519Key', 'peerSecret'] as const) {
    assert.ok((await readFile(homePaths(b)[k])).equals(await readFile(homePaths(a)[k])), k);
  }
  // same master key: a file added on the new home gets the same manifest-independent chunk hashes
  const addA = JSON.parse((await runGrove(a, ['--json', 'add', file])).stdout) as { files: { file_hash: string }[] };
  const addB = JSON.parse((await runGrove(b, ['--json', 'add', file])).stdout) as { files: { file_hash: string }[] };
  assert.equal(addA.files[0]!.file_hash, addB.files[0]!.file_hash);
  const verifyChunks = (root: string) => runGrove(root, ['--json', 'verify']).then((r) => JSON.parse(r.stdout) as { checked: number });
  assert.equal((await verifyChunks(a)).checked, (await verifyChunks(b)).checked);

  const again = await runGrove(b, ['key', 'import', bundle], { env });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already exists; import only into a fresh home/);
});

test('without GROVE_PASSPHRASE and without a terminal, a clear error', async (t) => {
  const dir = await tempDir(t);
  const a = join(dir, 'a');
  await runGrove(a, ['init'], { env });
  const r = await runGrove(a, ['key', 'export', '--out', join(dir, 'k')], { env: { GROVE_PASSPHRASE: '' } });
  assert.equal(r.code, 2);
  assert.equal(r.stderr, 'grove: no passphrase: set GROVE_PASSPHRASE or run in a terminal\n');
  const short = await runGrove(a, ['key', 'export', '--out', join(dir, 'k')], { env: { GROVE_PASSPHRASE: 'short' } });
  assert.match(short.stderr, /at least 8 characters/);
});
