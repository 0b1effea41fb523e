import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startCells, restartCell, waitFor, type TestCell } from '../helpers/cells.js';
import { tempDir, tempHome } from '../helpers/ingest.js';
import { pino } from 'pino';
import { groveJson } from '../helpers/cli.js';
import { latestVersion, versionsOf } from '../../src/ingest/files.js';
import { indexEntry } from '../../src/watch/folders.js';
import { DEFAULT_IGNORE } from '../../src/watch/ignore.js';
import { WatchService, type FolderView, type ScanProgress } from '../../src/watch/service.js';

// Watched folders with a real running cell (docs/watch.md): events → settle → the real
// ingest pipeline; the persisted index; pausing on a vanished root; catch-up at restart.

const SETTLE_MS = 400;
const config = { watch: { settle_ms: SETTLE_MS, ignore: [...DEFAULT_IGNORE], rescan_s: 3600 } };

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

async function watching(tc: TestCell, dir: string): Promise<FolderView> {
  const r = await groveJson<{ folder: FolderView }>(tc.root, 'watch', dir);
  return waitFor(() => tc.cell.watch.list().find((f) => f.root === r.folder.root && f.state === 'watching'), `watching ${dir}`);
}

const ingested = (tc: TestCell, path: string, version = 1) => waitFor(() => {
  const v = latestVersion(tc.cell.home.db, path);
  return v && v.version >= version ? v : undefined;
}, `${path} version ${version}`);

test('a dropped file is ingested, a change becomes a new version, temp files are ignored, a removed file is gone at source', async (t) => {
  const [a] = await startCells(t, 1, { config });
  const dir = await tempDir(t, 'grove-watched-');
  await mkdir(join(dir, 'sub'));
  await watching(a!, dir);

  const doc = join(dir, 'sub', 'report.txt');
  await writeFile(doc, 'first draft');
  await writeFile(join(dir, 'report.txt.swp'), 'vim swap');
  await writeFile(join(dir, '~$budget.xlsx'), 'office lock');
  await writeFile(join(dir, 'movie.mkv.part'), 'partial download');
  const v1 = await ingested(a!, doc);
  assert.equal(v1.file_hash, sha('first draft'));

  await writeFile(doc, 'second draft, longer');
  const v2 = await ingested(a!, doc, 2);
  assert.equal(v2.file_hash, sha('second draft, longer'));

  // The temp files were there before the document settled: they had every chance.
  for (const n of ['report.txt.swp', '~$budget.xlsx', 'movie.mkv.part']) {
    assert.equal(latestVersion(a!.cell.home.db, join(dir, n)), undefined, `${n} must be ignored`);
  }

  await rm(doc);
  await waitFor(() => indexEntry(a!.cell.home.db, doc)?.gone_at, 'gone at source');
  assert.equal(versionsOf(a!.cell.home.db, doc).length, 2, 'a removed file stays in Grove');
  const ls = await groveJson<{ files: { path: string; gone_at_source: number | null }[] }>(a!.root, 'ls');
  assert.ok(ls.files.find((f) => f.path === doc)!.gone_at_source, 'ls marks it gone at source');
  const list = await groveJson<{ folders: FolderView[] }>(a!.root, 'watch', '--list');
  assert.deepEqual(list.folders.map((f) => [f.state, f.files, f.gone]), [['watching', 1, 1]]);
});

test('a file still being written is not ingested half-done', async (t) => {
  const [a] = await startCells(t, 1, { config });
  const dir = await tempDir(t, 'grove-watched-');
  await watching(a!, dir);
  const path = join(dir, 'big.bin');
  const fh = await open(path, 'w');
  const parts: Buffer[] = [];
  // Writes far closer together than the settle delay, for more than three settle delays.
  const until = Date.now() + 4 * SETTLE_MS;
  for (let i = 0; Date.now() < until; i++) {
    const part = Buffer.alloc(64 * 1024, i % 251);
    parts.push(part);
    await fh.write(part);
    assert.equal(latestVersion(a!.cell.home.db, path), undefined, `ingested after ${i} writes, while still being written`);
    await new Promise((r) => setTimeout(r, SETTLE_MS / 8));
  }
  await fh.close();
  const v = await ingested(a!, path);
  assert.equal(v.version, 1, 'one version: the whole file');
  assert.equal(v.file_hash, sha(Buffer.concat(parts)));
});

test('a watched root that vanishes pauses its folder, marks nothing gone, and resumes with a catch-up when back', async (t) => {
  const [a] = await startCells(t, 1, { config });
  const base = await tempDir(t, 'grove-watched-');
  const dir = join(base, 'disk');
  await mkdir(dir);
  await writeFile(join(dir, 'a.txt'), 'alpha');
  await writeFile(join(dir, 'b.txt'), 'beta');
  await watching(a!, dir);
  await ingested(a!, join(dir, 'a.txt'));
  await ingested(a!, join(dir, 'b.txt'));

  // "Unmount": the folder goes away as a whole.
  const away = join(base, 'elsewhere');
  await rename(dir, away);
  await a!.cell.loop('watch-roots')!.runNow();
  const paused = a!.cell.watch.list()[0]!;
  assert.equal(paused.state, 'paused');
  assert.match(paused.note ?? '', /gone/);
  await writeFile(join(away, 'c.txt'), 'gamma, written while away');
  // Give any stray event more than two settle delays to (wrongly) mark something gone.
  await new Promise((r) => setTimeout(r, 3 * SETTLE_MS));
  assert.equal(a!.cell.watch.list()[0]!.gone, 0, 'nothing marked gone while paused');
  const status = await groveJson<{ watch: FolderView[] }>(a!.root, 'status');
  assert.equal(status.watch[0]!.state, 'paused');

  await rename(away, dir);
  await a!.cell.loop('watch-roots')!.runNow();
  await ingested(a!, join(dir, 'c.txt'));
  await waitFor(() => a!.cell.watch.list()[0]!.state === 'watching', 'resumed');
  assert.equal(a!.cell.watch.list()[0]!.gone, 0);
});

test('at restart a catch-up scan ingests only what changed while the cell was down', async (t) => {
  const [a] = await startCells(t, 1, { config });
  const dir = await tempDir(t, 'grove-watched-');
  for (const n of ['keep.txt', 'edit.txt', 'drop.txt']) await writeFile(join(dir, n), `${n} v1`);
  await watching(a!, dir);
  for (const n of ['keep.txt', 'edit.txt', 'drop.txt']) await ingested(a!, join(dir, n));

  await a!.cell.stop();
  await appendFile(join(dir, 'edit.txt'), ' and more');
  await writeFile(join(dir, 'new.txt'), 'new while down');
  await rm(join(dir, 'drop.txt'));

  const cell = await restartCell(a!);
  const seen: string[] = [];
  cell.watch.on('ingested', (_root, r) => seen.push(r.path));
  await waitFor(() => cell.watch.list()[0]?.state === 'watching', 'catch-up done');
  assert.deepEqual(seen.sort(), [join(dir, 'edit.txt'), join(dir, 'new.txt')], 'unchanged files are not read again');
  assert.equal(latestVersion(cell.home.db, join(dir, 'edit.txt'))!.version, 2);
  assert.equal(latestVersion(cell.home.db, join(dir, 'keep.txt'))!.version, 1);
  assert.ok(indexEntry(cell.home.db, join(dir, 'drop.txt'))!.gone_at, 'removed while down: gone at source');
  assert.ok(latestVersion(cell.home.db, join(dir, 'drop.txt')), 'and still in Grove');
});

test('watch refuses what it must not watch, and unwatch keeps the files', async (t) => {
  const [a] = await startCells(t, 1, { config });
  const dir = await tempDir(t, 'grove-watched-');
  await writeFile(join(dir, 'x.txt'), 'x');
  await watching(a!, dir);
  await ingested(a!, join(dir, 'x.txt'));
  assert.throws(() => a!.cell.watch.watch(join(dir, 'inner')), /no such directory/);
  await mkdir(join(dir, 'inner'));
  assert.throws(() => a!.cell.watch.watch(join(dir, 'inner')), /overlaps/);
  assert.throws(() => a!.cell.watch.watch(a!.root), /grove home/);
  await groveJson(a!.root, 'unwatch', dir);
  assert.deepEqual(a!.cell.watch.list(), []);
  assert.ok(latestVersion(a!.cell.home.db, join(dir, 'x.txt')));
});

test('a first scan reports its progress in the status and the log', async (t) => {
  const { home } = await tempHome(t);
  const dir = await tempDir(t, 'grove-watched-');
  for (let i = 0; i < 12; i++) await writeFile(join(dir, `f${i}.txt`), `file ${i}`);
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => { lines.push(s); } });
  const svc = new WatchService({ home, clock: Date.now, log, addLoop: () => {} }, { settleMs: SETTLE_MS, ignore: [], rescanMs: 3_600_000, progressEveryMs: 0 });
  t.after(() => svc.stop());
  const during: (ScanProgress | null)[] = [];
  svc.on('ingested', () => during.push(svc.list()[0]!.scan));
  svc.start();
  svc.watch(dir);
  await waitFor(() => svc.list()[0]?.state === 'watching', 'first scan done');
  assert.equal(during.length, 12);
  assert.deepEqual(during.map((s) => s && [s.files_done, s.files_total]).slice(0, 3), [[0, 12], [1, 12], [2, 12]], 'status shows the scan under way');
  assert.ok(during.every((s) => s && s.bytes_total === 12 * 6 + 2), 'bytes known up front');
  const msgs = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
  assert.ok(msgs.some((m) => /scanning .*: 12 of 12 files new or changed/.test(m)));
  assert.ok(msgs.some((m) => /scanning .*: \d+\/12 files, \d+\/74 bytes/.test(m)), 'progress lines in the log');
  assert.equal(svc.list()[0]!.scan, null, 'no scan shown once done');
});
