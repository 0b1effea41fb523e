import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile, readFile, rm } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { openSync, readSync, writeSync, closeSync, fstatSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, runGrove } from '../helpers/ingest.js';
import { CLI_ENV, groveJson, startDaemon } from '../helpers/cli.js';

// Recovery (docs/design.md §4) as a user does it, with the real executable: replicate, lose the disk, import
// the keys on a new machine, pair with one survivor, restore, get; and verify --repair.

interface SyncOut { peers_reached: number; pushed: number; errors: unknown[] }
interface LsOut { files: { name: string; copies: number; desired: number; holders: string[]; manifest_hash: string }[] }

test('CLI: sync, ls copies, status at_risk, total loss → key import, pair, restore, get; verify --repair', async (t) => {
  const dir = await tempDir(t, 'grove-recovery-');
  const A = join(dir, 'a');
  const B = join(dir, 'b');
  const C = join(dir, 'c');
  for (const [h, n] of [[A, 'alpha'], [B, 'beta'], [C, 'gamma']] as const) {
    assert.equal((await runGrove(h, ['init', '--name', n], { env: CLI_ENV })).code, 0);
  }
  const a = await startDaemon(t, A);
  const b = await startDaemon(t, B);
  const c = await startDaemon(t, C);
  for (const h of [B, C]) {
    const { code } = await groveJson<{ code: string }>(A, 'invite');
    await groveJson(h, 'pair', code);
  }
  const files = { 'report.pdf': randomBytes(6 * 1024 * 1024 + 5), 'notes.txt': Buffer.from('remember the milk\n') };
  for (const [name, data] of Object.entries(files)) await writeFile(join(dir, name), data);
  await groveJson(A, 'add', join(dir, 'report.pdf'), join(dir, 'notes.txt'));

  const s = await groveJson<SyncOut>(A, 'sync');
  assert.equal(s.peers_reached, 2);
  assert.deepEqual(s.errors, []);
  const ls = await groveJson<LsOut>(A, 'ls');
  for (const f of ls.files) {
    assert.equal(f.copies, 2, `${f.name} has 2 peer copies`);
    assert.equal(f.desired, 2);
    assert.deepEqual([...f.holders].sort(), [b.id, c.id].sort());
  }
  const status = await groveJson<{ at_risk: number }>(A, 'status');
  assert.equal(status.at_risk, 0);

  // Keep the keys, then lose the machine.
  const bundle = join(dir, 'keys.bundle');
  await groveJson(A, 'key', 'export', '--out', bundle);
  assert.equal(await a.stop(), 0);
  await rm(A, { recursive: true, force: true });

  const A2 = join(dir, 'a-new');
  const imported = await groveJson<{ id: string }>(A2, 'key', 'import', bundle);
  assert.equal(imported.id, a.id);
  const a2 = await startDaemon(t, A2);
  assert.equal(a2.id, a.id);
  const { code } = await groveJson<{ code: string }>(B, 'invite');
  await groveJson(A2, 'pair', code);
  const restored = await groveJson<{ restored: number; peers_added: number; missing_manifests: string[] }>(A2, 'restore');
  assert.equal(restored.restored, 2);
  assert.deepEqual(restored.missing_manifests, []);
  for (const [name, data] of Object.entries(files)) {
    const r = await runGrove(A2, ['get', name, '-o', join(dir, `restored-${name}`)], { env: CLI_ENV });
    assert.equal(r.code, 0, r.stderr);
    assert.ok((await readFile(join(dir, `restored-${name}`))).equals(data), `${name} is byte-identical`);
  }

  // A chunk goes bad on the new machine: verify finds it, --repair brings it back from a holder.
  const v0 = await groveJson<{ missing: string[]; corrupt: string[] }>(A2, 'verify');
  assert.deepEqual(v0.corrupt, []);
  // A chunk of report.pdf, which B holds: not just any object, since A2's new recovery index
  // pages may not have reached a peer yet, and those only A2 has could not be repaired.
  flipMiddleByte(firstChunkOf(A2, 'report.pdf'));
  const bad = await runGrove(A2, ['--json', 'verify'], { env: CLI_ENV });
  assert.equal(bad.code, 1);
  assert.equal((JSON.parse(bad.stdout) as { corrupt: string[] }).corrupt.length, 1);
  const fixed = await runGrove(A2, ['--json', 'verify', '--repair'], { env: CLI_ENV });
  assert.equal(fixed.code, 0, fixed.stderr);
  assert.equal((JSON.parse(fixed.stdout) as { repaired: string[] }).repaired.length, 1);
  const clean = await groveJson<{ corrupt: string[]; missing: string[] }>(A2, 'verify');
  assert.deepEqual(clean.corrupt, []);
  for (const d of [a2, b, c]) assert.equal(await d.stop(), 0);
});

function firstChunkOf(home: string, name: string): string {
  const db = new Database(join(home, 'placement.db'), { readonly: true });
  try {
    const hash = db.prepare(`SELECT c.hash FROM file_chunks c JOIN files f ON f.manifest_hash = c.manifest_hash
      WHERE f.name = ? ORDER BY c.idx LIMIT 1`).pluck().get(name) as string | undefined;
    if (!hash) throw new Error(`no chunk recorded for ${name}`);
    return join(home, 'chunks', hash.slice(0, 2), hash);
  } finally {
    db.close();
  }
}

function flipMiddleByte(path: string): void {
  const fd = openSync(path, 'r+');
  const size = fstatSync(fd).size;
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, Math.floor(size / 2));
  b[0] = b[0]! ^ 0xff;
  writeSync(fd, b, 0, 1, Math.floor(size / 2));
  closeSync(fd);
}
