import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, readFile, mkdir, chmod, readdir, symlink } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { tempDir, runGrove, streamBytes, type RunResult } from '../helpers/ingest.js';
import { homePaths } from '../../src/home/paths.js';

// `grove add | ls | get | verify` through the real executable: output shapes, exit codes,
// and one-line errors for bad input.

const MiB = 1024 * 1024;

async function initGrove(t: import('node:test').TestContext): Promise<{ root: string; dir: string }> {
  const dir = await tempDir(t);
  const root = join(dir, 'home');
  const r = await runGrove(root, ['init'], { env: { GROVE_DASHBOARD_PASSWORD: 'test-password' } });
  assert.equal(r.code, 0, r.stderr);
  return { root, dir };
}

function json<T>(r: RunResult): T {
  return JSON.parse(r.stdout) as T;
}

/** A failure is one `grove: …` line on stderr, no stack trace. */
function oneLineError(r: RunResult, pattern: RegExp): void {
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^grove: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

interface AddJson {
  files: { path: string; name: string; size: number; file_hash: string; manifest_hash: string; version: number; chunks: number; new_chunks: number }[];
  errors: { path: string; error: string }[];
}
interface LsJson {
  files: { name: string; path: string; size: number; version: number; file_hash: string; manifest_hash: string; chunks: number; added_at: number }[];
}

test('add a directory, list it, get files back by name, path and manifest hash', async (t) => {
  const { root, dir } = await initGrove(t);
  const tree = join(dir, 'tree');
  await mkdir(join(tree, 'sub'), { recursive: true });
  const big = streamBytes('cli-big', 9 * MiB + 3);
  await writeFile(join(tree, 'big.bin'), big);
  await writeFile(join(tree, 'sub', 'note.txt'), 'hello grove\n');
  await writeFile(join(tree, 'empty'), '');

  const add = await runGrove(root, ['--json', 'add', tree]);
  assert.equal(add.code, 0, add.stderr);
  assert.equal(add.stderr, ''); // not a terminal: no progress bar
  const added = json<AddJson>(add);
  assert.deepEqual(added.errors, []);
  assert.deepEqual(added.files.map((f) => [f.name, f.size, f.version, f.chunks, f.new_chunks]), [
    ['big.bin', 9 * MiB + 3, 1, 3, 3],
    ['empty', 0, 1, 1, 1],
    ['note.txt', 12, 1, 1, 1],
  ]);
  for (const f of added.files) {
    assert.deepEqual(Object.keys(f).sort(), ['chunks', 'file_hash', 'manifest_hash', 'name', 'new_chunks', 'path', 'size', 'version']);
    assert.match(f.manifest_hash, /^[0-9a-f]{64}$/);
  }

  const again = json<AddJson>(await runGrove(root, ['--json', 'add', tree]));
  assert.deepEqual(again.files.map((f) => [f.version, f.new_chunks]), [[1, 0], [1, 0], [1, 0]]);

  const ls = json<LsJson>(await runGrove(root, ['--json', 'ls']));
  assert.deepEqual(ls.files.map((f) => f.path), [join(tree, 'big.bin'), join(tree, 'empty'), join(tree, 'sub', 'note.txt')]);
  for (const f of ls.files) {
    for (const k of ['name', 'path', 'size', 'version', 'file_hash', 'manifest_hash', 'chunks', 'added_at']) assert.ok(k in f, k);
    assert.equal(f.file_hash, createHash('sha256').update(await readFile(f.path)).digest('hex'), `${f.name}: file_hash is SHA-256 of its bytes`);
    assert.equal(f.file_hash, added.files.find((a) => a.path === f.path)?.file_hash, 'the same file_hash as `add` reported');
  }

  const out = join(dir, 'out');
  await mkdir(out);
  const byName = await runGrove(root, ['get', 'big.bin', '-o', join(out, 'by-name')]);
  assert.equal(byName.code, 0, byName.stderr);
  assert.ok((await readFile(join(out, 'by-name'))).equals(big));
  const byPath = await runGrove(root, ['--json', 'get', join(tree, 'sub', 'note.txt'), '-o', out]);
  assert.equal(byPath.code, 0, byPath.stderr);
  assert.equal(json<{ out: string }>(byPath).out, join(out, 'note.txt'));
  assert.equal(await readFile(join(out, 'note.txt'), 'utf8'), 'hello grove\n');
  const byHash = await runGrove(root, ['get', added.files[1]!.manifest_hash], { cwd: out });
  assert.equal(byHash.code, 0, byHash.stderr);
  assert.equal((await readFile(join(out, 'empty'))).length, 0);

  // refuses to overwrite without --force
  oneLineError(await runGrove(root, ['get', 'note.txt', '-o', out]), /already exists/);
  assert.equal((await runGrove(root, ['get', 'note.txt', '-o', out, '--force'])).code, 0);

  const verify = await runGrove(root, ['--json', 'verify']);
  assert.equal(verify.code, 0, verify.stderr);
  assert.deepEqual(json(verify), { checked: 8, corrupt: [], missing: [], unrecorded: [] });
});

test('versions: ls --versions, get --version, and human output', async (t) => {
  const { root, dir } = await initGrove(t);
  const f = join(dir, 'diary.txt');
  await writeFile(f, 'monday');
  assert.match((await runGrove(root, ['add', f])).stdout, /^added .*diary\.txt .*version 1/);
  await writeFile(f, 'monday, tuesday');
  assert.match((await runGrove(root, ['add', f])).stdout, /version 2/);
  assert.match((await runGrove(root, ['add', f])).stdout, /^unchanged .* \(version 2\)/);
  const all = json<LsJson>(await runGrove(root, ['--json', 'ls', '--versions']));
  assert.deepEqual(all.files.map((x) => x.version), [1, 2]);
  const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
  assert.deepEqual(all.files.map((x) => x.file_hash), [sha256('monday'), sha256('monday, tuesday')], 'each version has its own file_hash');
  assert.deepEqual(json<LsJson>(await runGrove(root, ['--json', 'ls'])).files.map((x) => x.version), [2]);
  const human = await runGrove(root, ['ls']);
  assert.match(human.stdout, /diary\.txt\s+v2/);
  const old = join(dir, 'old.txt');
  assert.equal((await runGrove(root, ['get', 'diary.txt', '--version', '1', '-o', old])).code, 0);
  assert.equal(await readFile(old, 'utf8'), 'monday');
  oneLineError(await runGrove(root, ['get', 'diary.txt', '--version', '9', '-o', join(dir, 'x')]), /no version 9/);
  const usage = await runGrove(root, ['get', 'diary.txt', '--version', 'two']);
  assert.equal(usage.code, 2);
});

test('an ambiguous name lists the paths; unknown names are a clear error', async (t) => {
  const { root, dir } = await initGrove(t);
  for (const d of ['a', 'b']) {
    await mkdir(join(dir, d));
    await writeFile(join(dir, d, 'same.txt'), d);
  }
  await runGrove(root, ['add', join(dir, 'a'), join(dir, 'b')]);
  const r = await runGrove(root, ['get', 'same.txt', '-o', join(dir, 'x')]);
  oneLineError(r, /ambiguous/);
  assert.ok(r.stderr.includes(join(dir, 'a', 'same.txt')) && r.stderr.includes(join(dir, 'b', 'same.txt')));
  oneLineError(await runGrove(root, ['get', 'nope.txt']), /no file named nope\.txt/);
});

test('bad input: missing paths, FIFOs, loops and non-UTF-8 names are skipped with a warning and a non-zero exit', async (t) => {
  const { root, dir } = await initGrove(t);
  const tree = join(dir, 'mixed');
  await mkdir(tree);
  await writeFile(join(tree, 'good.txt'), 'good');
  execFileSync('mkfifo', [join(tree, 'fifo')]);
  await symlink('.', join(tree, 'loop'));
  writeFileSync(Buffer.concat([Buffer.from(join(tree, 'caf')), Buffer.from([0xe9])]), 'latin-1');
  const unreadable = join(tree, 'secret.txt');
  await writeFile(unreadable, 'x');
  await chmod(unreadable, 0o000);
  const asRoot = process.getuid?.() === 0; // root reads anything
  const r = await runGrove(root, ['--json', 'add', tree, join(dir, 'missing.txt')]);
  assert.equal(r.code, 1);
  const out = json<AddJson>(r);
  assert.deepEqual(out.files.map((f) => f.name), asRoot ? ['good.txt', 'secret.txt'] : ['good.txt']);
  const errs = Object.fromEntries(out.errors.map((e) => [e.path, e.error]));
  assert.match(errs[join(tree, 'fifo')]!, /FIFO/);
  assert.match(errs[join(tree, 'loop')]!, /loop/);
  assert.match(errs[join(tree, 'caf\\xe9')]!, /UTF-8/);
  assert.match(errs[join(dir, 'missing.txt')]!, /no such file/);
  if (!asRoot) assert.match(errs[unreadable]!, /permission denied/);
  // each problem is one warning line on stderr, no stack traces
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, out.errors.length);
  for (const l of lines) assert.match(l, /^grove: \//);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  // the good file made it
  assert.equal(json<LsJson>(await runGrove(root, ['--json', 'ls'])).files.some((f) => f.name === 'good.txt'), true);
});

test('a home with a key readable by others, or a corrupted placement.db, is one clear error and nothing is lost', async (t) => {
  const { root, dir } = await initGrove(t);
  const f = join(dir, 'f.txt');
  await writeFile(f, 'content');
  const p = homePaths(root);
  await chmod(p.masterKey, 0o644);
  oneLineError(await runGrove(root, ['add', f]), /accessible by others.*chmod 600/);
  await chmod(p.masterKey, 0o600);
  assert.equal((await runGrove(root, ['add', f])).code, 0);

  const good = await readFile(p.db);
  const garbage = Buffer.alloc(8192, 0x5a);
  await writeFile(p.db, garbage);
  for (const cmd of [['add', f], ['ls'], ['get', 'f.txt', '-o', join(dir, 'o')], ['verify']]) {
    oneLineError(await runGrove(root, cmd), /placement\.db is not a usable SQLite database/);
  }
  assert.ok((await readFile(p.db)).equals(garbage), 'the damaged database is left as it was');
  await writeFile(p.db, good);
  assert.equal((await runGrove(root, ['ls'])).code, 0);
});

test('a home that is not writable is refused before any work', { skip: process.getuid?.() === 0 ? 'root can write anywhere' : false }, async (t) => {
  const { root, dir } = await initGrove(t);
  const f = join(dir, 'f.txt');
  await writeFile(f, 'x');
  await chmod(homePaths(root).chunks, 0o555);
  t.after(() => chmod(homePaths(root).chunks, 0o755));
  oneLineError(await runGrove(root, ['add', f]), /cannot write to/);
});

test('tampering: get fails naming the chunk, leaves no output, and verify exits 1', async (t) => {
  const { root, dir } = await initGrove(t);
  const f = join(dir, 'data.bin');
  await writeFile(f, streamBytes('tamper', 5 * MiB));
  const added = json<AddJson>(await runGrove(root, ['--json', 'add', f]));
  const chunkDir = homePaths(root).chunks;
  const objects: string[] = [];
  for (const s of await readdir(chunkDir)) for (const n of await readdir(join(chunkDir, s))) objects.push(n);
  const victim = objects.find((h) => h !== added.files[0]!.manifest_hash)!;
  const path = join(chunkDir, victim.slice(0, 2), victim);
  const bytes = await readFile(path);
  bytes[100]! ^= 0x80;
  await writeFile(path, bytes);
  const outDir = join(dir, 'out');
  await mkdir(outDir);
  const r = await runGrove(root, ['get', 'data.bin', '-o', join(outDir, 'data.bin')]);
  oneLineError(r, new RegExp(`chunk ${victim} .*corrupt`));
  assert.deepEqual(await readdir(outDir), []);
  const v = await runGrove(root, ['--json', 'verify']);
  assert.equal(v.code, 1);
  assert.deepEqual(json<{ corrupt: string[] }>(v).corrupt, [victim]);
});
