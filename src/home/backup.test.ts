import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, tempHome } from '../../test/helpers/ingest.js';
import { exportKeyBundle, importKeyBundle } from './backup.js';
import { homePaths } from './paths.js';
import { openHome } from './home.js';
import { GroveError } from '../errors.js';

const CHEAP = { N: 1024, r: 8, p: 1 };
const isCode = (code: string) => (e: unknown) => e instanceof GroveError && e.code === code;

test('export then import into a fresh home restores identity, X25519, master key and peer secret', async (t) => {
  const { root, home } = await tempHome(t);
  const dir = await tempDir(t);
  const out = join(dir, 'keys.grove');
  const r = await exportKeyBundle(root, out, 'long passphrase', { scrypt: CHEAP });
  assert.equal(r.cellId, home.keys.cellId);
  assert.equal((await stat(out)).mode & 0o777, 0o600);
  await assert.rejects(exportKeyBundle(root, out, 'long passphrase', { scrypt: CHEAP }), isCode('CONFLICT'));

  const fresh = join(dir, 'new-home');
  const imported = await importKeyBundle(fresh, await readFile(out), 'long passphrase', { password: 'test-password', passwordIterations: 1000 });
  assert.equal(imported.cellId, home.keys.cellId);
  const h2 = openHome(fresh);
  t.after(() => h2.close());
  assert.equal(h2.keys.cellId, home.keys.cellId);
  assert.ok(h2.keys.master.equals(home.keys.master));
  assert.ok(h2.keys.peerSecret.equals(home.keys.peerSecret));
  assert.ok(h2.keys.x25519.publicRaw.equals(home.keys.x25519.publicRaw));
  const p1 = homePaths(root);
  const p2 = homePaths(fresh);
  for (const k of ['nodeKey', 'x25519Key', 'masterKey', 'peerSecret'] as const) {
    assert.ok((await readFile(p2[k])).equals(await readFile(p1[k])), k);
    assert.equal((await stat(p2[k])).mode & 0o777, 0o600, k);
  }
  assert.ok(existsSync(p2.db) && existsSync(p2.config) && existsSync(p2.chunks));
  // never over existing keys
  await assert.rejects(importKeyBundle(fresh, await readFile(out), 'long passphrase'), isCode('CONFLICT'));
});

test('a wrong passphrase creates nothing', async (t) => {
  const { root } = await tempHome(t);
  const dir = await tempDir(t);
  const out = join(dir, 'keys.grove');
  await exportKeyBundle(root, out, 'long passphrase', { scrypt: CHEAP });
  const target = join(dir, 'target');
  await assert.rejects(importKeyBundle(target, await readFile(out), 'not it'), isCode('UNAUTHENTICATED'));
  assert.equal(existsSync(target), false);
});
