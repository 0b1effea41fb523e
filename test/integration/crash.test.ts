import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile, readFile, readdir, mkdir } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { tempDir, runGrove, streamBytes, objectFiles, tornObjects, GROVE_BIN } from '../helpers/ingest.js';
import { homePaths } from '../../src/home/paths.js';
import { TMP_PREFIX } from '../../src/home/atomic.js';

// Crash safety (docs/design.md §1): SIGKILL `grove add` of a 64 MiB file (16 chunks) at
// several exact moments: the process kills itself right after its Nth object is committed
// (src/store/fault.ts), the last point being after the manifest and before the catalog
// transaction. After each kill: no torn object, and nothing in placement.db names an object
// that is not on disk. Then add runs again to completion and get returns the same bytes.

const MiB = 1024 * 1024;
const CHUNKS = 16;

async function tempFiles(chunksDir: string): Promise<number> {
  let n = 0;
  for (const s of await readdir(chunksDir).catch(() => [] as string[])) {
    for (const name of await readdir(join(chunksDir, s)).catch(() => [] as string[])) if (name.startsWith(TMP_PREFIX)) n++;
  }
  return n;
}

/** Every files/file_chunks row must point at objects present on disk and in the catalog. */
function danglingReferences(root: string, onDisk: Set<string>): string[] {
  const db = new Database(homePaths(root).db, { readonly: true });
  try {
    const refs = db.prepare('SELECT manifest_hash AS h FROM files UNION SELECT hash AS h FROM file_chunks UNION SELECT hash AS h FROM objects WHERE present = 1').all() as { h: string }[];
    return refs.map((r) => r.h).filter((h) => !onDisk.has(h));
  } finally {
    db.close();
  }
}

function fileRows(root: string): number {
  const db = new Database(homePaths(root).db, { readonly: true });
  try {
    return db.prepare('SELECT COUNT(*) FROM files').pluck().get() as number;
  } finally {
    db.close();
  }
}

for (const killAfter of [1, 5, 11, CHUNKS, CHUNKS + 1]) {
  test(`SIGKILL after ${killAfter} object(s) appeared leaves a consistent home`, async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, 'home');
    assert.equal((await runGrove(root, ['init'], { env: { GROVE_DASHBOARD_PASSWORD: 'test-password' } })).code, 0);
    const src = join(dir, 'big.bin');
    const data = streamBytes(`crash-${killAfter}`, 64 * MiB);
    await writeFile(src, data);
    const chunksDir = homePaths(root).chunks;

    const child = spawn(process.execPath, [GROVE_BIN, '--home', root, 'add', src], {
      stdio: 'ignore', env: { ...process.env, GROVE_FAULT_KILL_AFTER_OBJECTS: String(killAfter) },
    });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, sig) => resolve(sig)));
    assert.equal(signal, 'SIGKILL', 'the add was killed mid-way, not finished');
    assert.ok((await objectFiles(chunksDir)).length >= killAfter, 'the kill came after the chosen object');
    assert.equal(fileRows(root), 0, 'the add did not commit');

    assert.deepEqual(await tornObjects(chunksDir), [], 'no torn object');
    const onDisk = new Set(await objectFiles(chunksDir));
    assert.deepEqual(danglingReferences(root, onDisk), [], 'no row names a missing object');

    const again = await runGrove(root, ['--json', 'add', src]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await tempFiles(chunksDir), 0, 'leftover temp files are swept');
    const added = JSON.parse(again.stdout) as { files: { chunks: number; version: number }[] };
    assert.equal(added.files[0]!.chunks, CHUNKS);
    assert.equal(added.files[0]!.version, 1);
    const out = join(dir, 'restored.bin');
    const get = await runGrove(root, ['get', 'big.bin', '-o', out]);
    assert.equal(get.code, 0, get.stderr);
    assert.ok((await readFile(out)).equals(data), 'identical bytes');
    const verify = await runGrove(root, ['--json', 'verify']);
    assert.equal(verify.code, 0, verify.stdout);
  });
}

// The same for many small files, which are group-committed (src/ingest/group.ts): 300 files
// of 16 KiB make a first batch of 256 files (512 objects: a chunk and a manifest each) and a
// second of 44. Kill points: inside the first barrier, right after its last rename (before
// its transaction), and inside the second barrier (the first batch is committed by then).
const SMALL_FILES = 300;
for (const killAfter of [1, 200, 512, 530]) {
  test(`SIGKILL after ${killAfter} object(s) of a group-committed add leaves a consistent home`, async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, 'home');
    assert.equal((await runGrove(root, ['init'], { env: { GROVE_DASHBOARD_PASSWORD: 'test-password' } })).code, 0);
    const tree = join(dir, 'tree');
    await mkdir(tree);
    const contents = new Map<string, Buffer>();
    for (let i = 0; i < SMALL_FILES; i++) {
      const name = `f${String(i).padStart(3, '0')}.bin`;
      const data = streamBytes(`small-${killAfter}-${i}`, 16 * 1024);
      contents.set(name, data);
      await writeFile(join(tree, name), data);
    }
    const chunksDir = homePaths(root).chunks;
    const child = spawn(process.execPath, [GROVE_BIN, '--home', root, 'add', tree], {
      stdio: 'ignore', env: { ...process.env, GROVE_FAULT_KILL_AFTER_OBJECTS: String(killAfter) },
    });
    const signal = await new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, sig) => resolve(sig)));
    assert.equal(signal, 'SIGKILL', 'the add was killed mid-way, not finished');
    const rows = fileRows(root);
    assert.equal(rows, killAfter > 512 ? 256 : 0, 'only whole batches are committed');
    assert.deepEqual(await tornObjects(chunksDir), [], 'no torn object');
    const onDisk = new Set(await objectFiles(chunksDir));
    assert.deepEqual(danglingReferences(root, onDisk), [], 'no row names a missing object');

    const again = await runGrove(root, ['--json', 'add', tree]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await tempFiles(chunksDir), 0, 'leftover temp files are swept');
    const added = JSON.parse(again.stdout) as { files: { name: string; version: number }[] };
    assert.equal(added.files.length, SMALL_FILES);
    assert.ok(added.files.every((f) => f.version === 1), 'one version per file');
    for (const name of ['f000.bin', 'f255.bin', 'f256.bin', 'f299.bin']) {
      const out = join(dir, `restored-${name}`);
      const get = await runGrove(root, ['get', join(tree, name), '-o', out]);
      assert.equal(get.code, 0, get.stderr);
      assert.ok((await readFile(out)).equals(contents.get(name)!), `identical bytes of ${name}`);
    }
    const verify = await runGrove(root, ['--json', 'verify']);
    assert.equal(verify.code, 0, verify.stdout);
  });
}
