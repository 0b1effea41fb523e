import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile, symlink } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { tempDir } from '../../test/helpers/ingest.js';
import { walkInputs, escapeName } from './walk.js';

test('directories are walked recursively in name order; duplicates count once', async (t) => {
  const dir = await tempDir(t);
  await mkdir(join(dir, 'b', 'deep'), { recursive: true });
  await writeFile(join(dir, 'z.txt'), 'zz');
  await writeFile(join(dir, 'a.txt'), 'a');
  await writeFile(join(dir, 'b', 'deep', 'c.txt'), 'ccc');
  const r = await walkInputs([dir, join(dir, 'a.txt')]);
  assert.deepEqual(r.issues, []);
  assert.deepEqual(r.files, [
    { path: join(dir, 'a.txt'), size: 1 },
    { path: join(dir, 'b', 'deep', 'c.txt'), size: 3 },
    { path: join(dir, 'z.txt'), size: 2 },
  ]);
});

test('relative arguments resolve against cwd', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'rel.txt'), 'r');
  const r = await walkInputs(['rel.txt'], dir);
  assert.deepEqual(r.files.map((f) => f.path), [join(dir, 'rel.txt')]);
});

test('missing paths, FIFOs, sockets, loops, dangling links and non-UTF-8 names are reported and skipped', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'ok.txt'), 'fine');
  execFileSync('mkfifo', [join(dir, 'pipe')]);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(join(dir, 'sock'), resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  await mkdir(join(dir, 'sub'));
  await symlink('..', join(dir, 'sub', 'up'));
  await symlink('self', join(dir, 'self'));
  await symlink('nowhere', join(dir, 'dangling'));
  const raw = Buffer.concat([Buffer.from(join(dir, 'bad')), Buffer.from([0xff, 0xfe]), Buffer.from('.txt')]);
  writeFileSync(raw, 'latin-1 name');
  const r = await walkInputs([dir, join(dir, 'absent')]);
  assert.deepEqual(r.files.map((f) => f.path), [join(dir, 'ok.txt')]);
  const issues = Object.fromEntries(r.issues.map((i) => [i.path, i.error]));
  assert.match(issues[join(dir, 'pipe')]!, /FIFO/);
  assert.match(issues[join(dir, 'sock')]!, /socket/);
  assert.match(issues[join(dir, 'sub', 'up')]!, /loop/);
  assert.match(issues[join(dir, 'self')]!, /loop/);
  assert.match(issues[join(dir, 'dangling')]!, /dangling/);
  assert.match(issues[join(dir, 'bad\\xff\\xfe.txt')]!, /UTF-8/);
  assert.match(issues[join(dir, 'absent')]!, /no such file/);
  assert.equal(r.issues.length, 7);
});

test('a link to a file or directory elsewhere is followed', async (t) => {
  const dir = await tempDir(t);
  const other = await tempDir(t);
  await writeFile(join(other, 'target.txt'), 'target');
  await mkdir(join(dir, 'tree'));
  await symlink(join(other, 'target.txt'), join(dir, 'tree', 'link.txt'));
  await symlink(other, join(dir, 'tree', 'linkdir'));
  const r = await walkInputs([join(dir, 'tree')]);
  assert.deepEqual(r.issues, []);
  assert.deepEqual(r.files.map((f) => f.path), [join(dir, 'tree', 'link.txt'), join(dir, 'tree', 'linkdir', 'target.txt')]);
});

test('escapeName shows bytes that are not printable ASCII as \\xNN', () => {
  assert.equal(escapeName(Buffer.from([0x61, 0xff, 0x5c, 0x20])), 'a\\xff\\x5c ');
});
