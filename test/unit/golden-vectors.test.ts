import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deriveGolden, deriveCase, goldenInput, goldenIdentityPem, GOLDEN } from './golden-derive.js';
import { tempDir } from '../helpers/ingest.js';
import { initHome, openHome } from '../../src/home/home.js';
import { homePaths } from '../../src/home/paths.js';
import { writeKeys } from '../../src/home/keys.js';
import { generateX25519, privateKeyPem } from '../../src/crypto/keys.js';
import { SealPool } from '../../src/ingest/pool.js';
import { addFile } from '../../src/ingest/add.js';
import { chunksOf } from '../../src/ingest/files.js';
import { restoreFile } from '../../src/ingest/restore.js';
import { fileKey } from '../../src/crypto/kdf.js';

// Golden vectors for docs/design.md §2, generated once into test/fixtures/golden-ingest.json and
// checked forever: an independent implementation (golden-derive.ts) must reproduce them,
// and so must the real `grove add` pipeline.

const fixturePath = fileURLToPath(new URL('../../../test/fixtures/golden-ingest.json', import.meta.url));
const fixture = JSON.parse(readFileSync(fixturePath, 'utf8')) as ReturnType<typeof deriveGolden>;

test('fixture covers empty, 1 byte, exactly 4 MiB and 4 MiB + 1', () => {
  assert.deepEqual(fixture.cases.map((c) => c.size), [0, 1, 4194304, 4194305]);
  assert.deepEqual(fixture.cases.map((c) => c.chunks.length), [1, 1, 1, 2]);
  assert.equal(fixture.cases[0]!.file_hash, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'); // SHA-256("")
  assert.equal(fixture.cases[3]!.chunks[1]!.size, 1);
});

test('independent node:crypto derivation from docs/design.md §2 reproduces the fixture', () => {
  assert.deepEqual(deriveGolden(), fixture);
});

test('the grove add pipeline reproduces the fixture', async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, 'home');
  mkdirSync(root, { mode: 0o700 });
  writeKeys(homePaths(root), {
    identityPem: goldenIdentityPem(),
    x25519Pem: privateKeyPem(generateX25519().privateKey),
    master: Buffer.from(GOLDEN.masterKeyHex, 'hex'),
    peerSecret: Buffer.alloc(32),
  });
  initHome(root, { password: 'test-password', passwordIterations: 1000 });
  const home = openHome(root);
  t.after(() => home.close());
  assert.equal(home.keys.cellId, fixture.owner);
  const pool = new SealPool();
  t.after(() => pool.close());
  for (const want of fixture.cases) {
    const src = join(dir, want.filename);
    await writeFile(src, goldenInput(want.size));
    const r = await addFile({ home, pool, now: () => GOLDEN.syncedAt }, src, { sourcePath: want.source_path });
    assert.equal(r.file_hash, want.file_hash, `file hash, size ${want.size}`);
    assert.equal(r.manifest_hash, want.manifest_hash, `manifest hash, size ${want.size}`);
    assert.deepEqual(chunksOf(home.db, r.manifest_hash), want.chunks.map((c) => ({ hash: c.hash, size: c.size, index: c.index })));
    assert.equal(fileKey(home.keys.master, Buffer.from(want.file_hash, 'hex')).toString('hex'), want.file_key);
    for (const c of want.chunks) assert.ok(home.objects.has(c.hash), `chunk ${c.index} stored`);
    // and back
    const out = join(dir, `${want.filename}.out`);
    await restoreFile(home, r.manifest_hash, Buffer.from(want.file_key, 'hex'), out, { pool });
    assert.ok(readFileSync(out).equals(goldenInput(want.size)));
  }
});

test('a one-bit change of input changes every derived value', () => {
  const a = deriveCase(1);
  assert.notEqual(a.file_hash, fixture.cases[0]!.file_hash);
  assert.notEqual(a.manifest_hash, fixture.cases[0]!.manifest_hash);
});
