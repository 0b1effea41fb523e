// `npm run bench:all [-- --runs 3 --quick --json --only add,sync,startup --dir /tmp]`
//
// One table of Grove against reference tools measured in the same run, on the same data:
//   - `grove add` of 1 000 × 64 KiB and of 1 GiB vs `restic backup` into a fresh local repo,
//     and the 1 GiB add vs its own crypto pipeline run in memory on the seal workers (the
//     compute limit: what add could reach if reading and writing cost nothing);
//   - cell-to-cell sync (two `grove start` cells on loopback: add on A, until B holds every
//     object) vs two Syncthing instances on loopback (scan on A, until B's folder is complete),
//     for 1 000 × 64 KiB and 16 × 64 MiB;
//   - start-up of `grove id` and `grove status` vs `node -e 0`;
//   - peak RSS of every measured grove command and of each cell.
// Each figure is the median of --runs runs; within a run the tools take turns in a rotating
// order, with fresh homes/repos and the page cache primed the same way before each measured
// step (lib.ts `prime`), so that noise and cache state hit every tool alike. Restic and
// Syncthing are Debian's (installed with apt-get if absent); when one cannot run, its rows are
// skipped, not failed. Every child process is killed and every temp dir removed on exit,
// Ctrl-C included, and every measured step has a deadline.

import { randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { CHUNK_SIZE, TAG_LENGTH } from '../src/crypto/domains.js';
import { fileKey } from '../src/crypto/kdf.js';
import { chunkCount } from '../src/ingest/add.js';
import { SealPool } from '../src/ingest/pool.js';
import type { BufferRing } from '../src/ingest/buffers.js';
import { homePaths } from '../src/home/paths.js';
import { fsyncDir } from '../src/home/atomic.js';
import { mapLimit } from '../src/sync/transfer.js';
import { chunksOf, manifestHashes } from '../src/ingest/files.js';
import {
  BENCH_PASSWORD, GROVE, GROVE_CMD, Reaper, TimeoutError, ensureDebianTool, groveCli, initBenchHome, listObjects, machineInfo, measure, median,
  pairCells, prime, settle, startDaemon, writeRandomFile, writeRandomTree, run, type Daemon, type MachineInfo, type Measured,
} from './lib.js';
import { SYNCTHING, startSyncthingPair, syncthingVersion } from './syncthing.js';
import { describeData, formatMachine, formatTable, infoRow, rssRow, speedRow, startupRow, type Row } from './report.js';

// The disk floor issues its fsyncs from this process, on libuv's pool: as wide as grove's
// (bin/grove sets the same), set before the pool's first use.
process.env.UV_THREADPOOL_SIZE ??= '16';

type Section = 'add' | 'sync' | 'startup';

interface Args {
  runs: number;
  quick: boolean;
  json: boolean;
  dir: string | undefined;
  only: Set<Section>;
}

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const RSS_LIMIT_MB = 150;

interface Workload { count: number; size: number }

function sizes(quick: boolean): { addSmall: Workload; addBig: Workload; syncSmall: Workload; syncBig: Workload } {
  return quick
    ? { addSmall: { count: 100, size: 64 * KiB }, addBig: { count: 1, size: 64 * MiB }, syncSmall: { count: 100, size: 64 * KiB }, syncBig: { count: 4, size: 16 * MiB } }
    : { addSmall: { count: 1000, size: 64 * KiB }, addBig: { count: 1, size: GiB }, syncSmall: { count: 1000, size: 64 * KiB }, syncBig: { count: 16, size: 64 * MiB } };
}

function parseArgs(argv: string[]): Args {
  const a: Args = { runs: 3, quick: false, json: false, dir: undefined, only: new Set(['add', 'sync', 'startup']) };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--runs') a.runs = Math.max(1, Math.floor(Number(v())) || 1);
    else if (k === '--quick') a.quick = true;
    else if (k === '--json') a.json = true;
    else if (k === '--dir') a.dir = v();
    else if (k === '--only') {
      const parts = v().split(',').map((s) => s.trim());
      for (const p of parts) if (!['add', 'sync', 'startup'].includes(p)) throw new Error(`--only: unknown section ${p} (known: add, sync, startup)`);
      a.only = new Set(parts as Section[]);
    } else throw new Error(`unknown option ${k} (known: --runs N, --quick, --json, --dir DIR, --only add,sync,startup)`);
  }
  return a;
}

/** A deadline for one measured step: generous, but a stuck tool cannot hold the bench forever. */
function deadlineMs(w: Workload): number {
  return 120_000 + (w.count * w.size) / 5e6 * 1000 + w.count * 250;
}

const log = (s: string) => process.stderr.write(`${s}\n`);

/** Samples per measured thing, and the first error of each thing that failed. */
class Samples {
  readonly values = new Map<string, Measured[]>();
  readonly errors = new Map<string, string>();

  async take(key: string, fn: () => Promise<Measured>): Promise<void> {
    if (!this.values.has(key)) this.values.set(key, []);
    try {
      const m = await fn();
      this.values.get(key)!.push(m);
      log(`  ${key}: ${m.seconds.toFixed(3)} s${m.rss ? `, peak RSS ${(m.rss / 1e6).toFixed(0)} MB` : ''}`);
    } catch (e) {
      const msg = e instanceof TimeoutError ? `timed out: ${e.message}` : e instanceof Error ? e.message : String(e);
      log(`  ${key}: ${msg}`);
      if (!this.errors.has(key)) this.errors.set(key, msg);
    }
  }

  /** Median seconds; undefined unless every run succeeded (a median over survivors would flatter). */
  seconds(key: string, runs: number): number | undefined {
    const s = this.values.get(key) ?? [];
    return s.length === runs && !this.errors.has(key) ? median(s.map((x) => x.seconds)) : undefined;
  }

  /** Highest value of a figure over the runs (peak RSS by default). */
  peak(key: string, field = 'rss'): number | undefined {
    const r = (this.values.get(key) ?? []).map((x) => (x as unknown as Record<string, unknown>)[field]).filter((x): x is number => typeof x === 'number');
    return r.length ? Math.max(...r) : undefined;
  }

  why(key: string): string | undefined {
    return this.errors.get(key);
  }

  json(): Record<string, { samples: Measured[]; error?: string }> {
    const out: Record<string, { samples: Measured[]; error?: string }> = {};
    for (const [k, v] of this.values) out[k] = { samples: v.map(({ stdout: _stdout, ...x }) => x), ...(this.errors.has(k) ? { error: this.errors.get(k)! } : {}) };
    return out;
  }
}

/** Runs `steps` `runs` times, in an order that rotates from run to run. */
async function rotate(runs: number, label: string, steps: (() => Promise<void>)[]): Promise<void> {
  for (let i = 0; i < runs; i++) {
    log(`${label}: run ${i + 1}/${runs}`);
    for (let k = 0; k < steps.length; k++) await steps[(i + k) % steps.length]!();
  }
}

const groveEnv = { GROVE_DASHBOARD_PASSWORD: BENCH_PASSWORD };

// --- add -----------------------------------------------------------------------------------

interface Data { path: string; files: string[]; w: Workload; bytes: number }

async function makeTree(dir: string, w: Workload): Promise<Data> {
  const files = await writeRandomTree(dir, w.count, w.size);
  return { path: dir, files, w, bytes: w.count * w.size };
}

async function makeFile(path: string, w: Workload): Promise<Data> {
  await writeRandomFile(path, w.size);
  return { path, files: [path], w, bytes: w.size };
}

async function groveAdd(reaper: Reaper, work: string, d: Data): Promise<Measured> {
  const home = join(reaper.tempDir('home-', work), 'home');
  try {
    groveCli(home, ['init', '--name', 'bench']);
    settle();
    prime(work, d.bytes);
    return await measure(process.execPath, [...GROVE_CMD, '--home', home, 'add', d.path], { env: groveEnv, timeoutMs: deadlineMs(d.w), reaper });
  } finally {
    await reaper.remove(join(home, '..'));
    settle();
  }
}

async function resticBackup(reaper: Reaper, work: string, d: Data): Promise<Measured> {
  const dir = reaper.tempDir('restic-', work);
  // The cache goes inside the temp dir too, so that nothing is left in ~/.cache.
  const env = { RESTIC_PASSWORD: BENCH_PASSWORD, RESTIC_CACHE_DIR: join(dir, 'cache') };
  try {
    run('restic', ['init', '--repo', join(dir, 'repo'), '--quiet'], env);
    settle();
    prime(work, d.bytes);
    return await measure('restic', ['backup', '--repo', join(dir, 'repo'), '--quiet', d.path], { env, timeoutMs: deadlineMs(d.w), reaper });
  } finally {
    await reaper.remove(dir);
    settle();
  }
}

/**
 * The compute limit of `grove add` for one file, with the real pipeline's functions on the
 * real worker pool, over data already in memory: pass 1 is the file's SHA-256 (one stream,
 * which cannot be split, on one worker), pass 2 seals every 4 MiB chunk with
 * ChaCha20-Poly1305 and hashes the sealed bytes, spread over both workers.
 */
class ComputeLimit {
  private readonly pool = new SealPool();
  private readonly master = randomBytes(32);
  private plain: BufferRing | undefined;
  private sealed: BufferRing | undefined;

  async run(size: number): Promise<Measured> {
    const n = chunkCount(size);
    if (!this.plain) {
      this.plain = this.pool.ring(n, CHUNK_SIZE);
      for (const s of this.plain.slots) randomBytes(CHUNK_SIZE).copy(s.bytes);
      this.sealed = this.pool.ring(2 * this.pool.size, CHUNK_SIZE + TAG_LENGTH);
    }
    const plain = this.plain;
    const sealed = this.sealed!;
    const len = (i: number) => Math.min(CHUNK_SIZE, size - i * CHUNK_SIZE);
    const t0 = performance.now();
    const stream = this.pool.hashStream();
    await Promise.all(plain.slots.slice(0, n).map((s, i) => stream.update(s, len(i))));
    const fileHash = await stream.digest();
    const key = fileKey(this.master, fileHash);
    let next = 0;
    const lane = async () => {
      while (next < n) {
        const i = next++;
        const out = await sealed.acquire();
        try {
          await this.pool.seal(key, fileHash, i, plain.slots[i]!, len(i), out);
        } finally {
          sealed.release(out);
        }
      }
    };
    await Promise.all(Array.from({ length: sealed.count }, lane));
    return { seconds: (performance.now() - t0) / 1000 };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** fsyncs issued together by the disk floor: as many as grove's own barrier issues. */
const FLOOR_FSYNCS = 16;
/** Bytes of a file's manifest object as the floor writes it (a sealed manifest of one chunk is about this). */
const FLOOR_MANIFEST_BYTES = 640;

/**
 * What the disk alone costs to keep a workload's objects one file per object, as grove does:
 * every sealed chunk (its size plus the tag) and one manifest-sized object per file, written
 * from memory to a temp file in its shard directory, fsynced (FLOOR_FSYNCS at once), renamed;
 * then every touched shard directory fsynced. Nothing is read, sealed, hashed or recorded, so
 * no `grove add` of the same files can be faster on this disk in this layout. `copies: 2` is
 * the floor of a sync between two cells on this one disk: the sender stores the objects when
 * it adds the files, the receiver stores them again.
 */
async function diskFloor(reaper: Reaper, work: string, w: Workload, copies = 1): Promise<Measured> {
  const dir = reaper.tempDir('floor-', work);
  const bytes = randomBytes(CHUNK_SIZE + TAG_LENGTH);
  const sizes: number[] = [];
  for (let f = 0; f < w.count * copies; f++) {
    for (let c = 0; c < chunkCount(w.size); c++) sizes.push(Math.min(CHUNK_SIZE, w.size - c * CHUNK_SIZE) + TAG_LENGTH);
    sizes.push(FLOOR_MANIFEST_BYTES);
  }
  try {
    settle();
    const t0 = performance.now();
    const shards = new Set<string>();
    await mapLimit(sizes.map((size, i) => ({ size, i })), FLOOR_FSYNCS, async ({ size, i }) => {
      const shard = join(dir, (i % 256).toString(16).padStart(2, '0'));
      if (!shards.has(shard)) {
        shards.add(shard);
        await mkdir(shard, { recursive: true });
      }
      const tmp = join(shard, `.tmp-${i}`);
      const fh = await open(tmp, 'w');
      try {
        await fh.write(bytes, 0, size);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, join(shard, String(i)));
    });
    await mapLimit([...shards], FLOOR_FSYNCS, fsyncDir);
    return { seconds: (performance.now() - t0) / 1000 };
  } finally {
    await reaper.remove(dir);
  }
}

async function addSection(reaper: Reaper, work: string, args: Args, haveRestic: boolean, s: Samples): Promise<Row[]> {
  const z = sizes(args.quick);
  log(`writing ${describeData(z.addSmall.count, z.addSmall.size)} and ${describeData(1, z.addBig.size)} of random data`);
  const small = await makeTree(join(work, 'add-small'), z.addSmall);
  const big = await makeFile(join(work, 'add-big.bin'), z.addBig);
  settle();
  const smallSteps = [
    () => s.take('add-small/grove', () => groveAdd(reaper, work, small)),
    ...(haveRestic ? [() => s.take('add-small/restic', () => resticBackup(reaper, work, small))] : []),
    () => s.take('add-small/floor', () => diskFloor(reaper, work, small.w)),
  ];
  await rotate(args.runs, `add ${describeData(small.w.count, small.w.size)}`, smallSteps);
  const limit = new ComputeLimit();
  try {
    const bigSteps = [
      () => s.take('add-big/grove', () => groveAdd(reaper, work, big)),
      ...(haveRestic ? [() => s.take('add-big/restic', () => resticBackup(reaper, work, big))] : []),
      () => s.take('add-big/compute', () => limit.run(big.bytes)),
      () => s.take('add-big/floor', () => diskFloor(reaper, work, big.w)),
    ];
    await rotate(args.runs, `add ${describeData(1, big.bytes)}`, bigSteps);
  } finally {
    await limit.close();
  }
  await reaper.remove(big.path);
  const n = args.runs;
  const noRestic = haveRestic ? undefined : 'restic is not available';
  const smallName = describeData(small.w.count, small.w.size);
  const bigName = describeData(1, big.bytes);
  return [
    speedRow(`add ${smallName}`, s.seconds('add-small/grove', n), 'restic', s.seconds('add-small/restic', n), 1.5,
      { grove: s.why('add-small/grove'), ref: noRestic ?? s.why('add-small/restic') }),
    speedRow(`add ${bigName}`, s.seconds('add-big/grove', n), 'restic', s.seconds('add-big/restic', n), 2.5,
      { grove: s.why('add-big/grove'), ref: noRestic ?? s.why('add-big/restic') }),
    speedRow(`add ${bigName} vs compute limit`, s.seconds('add-big/grove', n), 'in-memory crypto', s.seconds('add-big/compute', n), 0.7,
      { grove: s.why('add-big/grove'), ref: s.why('add-big/compute') }),
    infoRow(`add ${smallName} vs disk floor`, s.seconds('add-small/grove', n), 'disk floor', s.seconds('add-small/floor', n)),
    infoRow(`disk floor of ${smallName}`, s.seconds('add-small/floor', n), 'restic', s.seconds('add-small/restic', n)),
    infoRow(`add ${bigName} vs disk floor`, s.seconds('add-big/grove', n), 'disk floor', s.seconds('add-big/floor', n)),
    infoRow(`disk floor of ${bigName}`, s.seconds('add-big/floor', n), 'restic', s.seconds('add-big/restic', n)),
    infoRow(`disk floor of ${bigName}`, s.seconds('add-big/floor', n), 'in-memory crypto', s.seconds('add-big/compute', n)),
  ];
}

// --- sync ----------------------------------------------------------------------------------

interface SyncFigures extends Measured {
  /** Peak RSS of the sending and the receiving cell / instance. */
  rssA?: number;
  rssB?: number;
  /** Peak RSS of the measured `grove add` and `grove sync` commands. */
  rssAdd?: number;
  rssSync?: number;
  /** Grove: the two parts of the time, and the number of `grove sync` rounds it took. */
  addSeconds?: number;
  rounds?: number;
}

/**
 * Two fresh cells, paired; `grove add` on A, then `grove sync` on A until B holds every object.
 * As in bench/sync.ts, A is stopped while the files are added and started again (not timed)
 * before the sync: a running cell starts its own first round 15 s after start, and that round
 * joining the measured one in the middle of the add would make the figure depend on timing luck.
 */
async function groveSync(reaper: Reaper, work: string, d: Data): Promise<SyncFigures> {
  const base = reaper.tempDir('grove-sync-', work);
  const homeA = join(base, 'a');
  const homeB = join(base, 'b');
  initBenchHome(homeA, 'a');
  initBenchHome(homeB, 'b');
  let a: Daemon | undefined;
  let b: Daemon | undefined;
  try {
    a = await startDaemon(homeA, reaper);
    b = await startDaemon(homeB, reaper);
    pairCells(homeA, homeB);
    await a.stop();
    prime(work, d.bytes);
    const deadline = performance.now() + deadlineMs(d.w);
    const left = () => Math.max(1, deadline - performance.now());
    const add = await measure(process.execPath, [...GROVE_CMD, '--home', homeA, 'add', d.path], { env: groveEnv, timeoutMs: left(), reaper });
    // Not timed: A's restart, and what B must hold at the end: the added files' manifests
    // and chunks (A's own recovery index is rewritten by every round: not a fixed target).
    const expected = addedObjects(homeA);
    if (expected.length < d.files.length * 2) throw new Error(`grove add recorded ${expected.length} objects for ${d.files.length} files`);
    a = await startDaemon(homeA, reaper);
    groveCli(homeA, ['peers', '--probe']);
    let seconds = add.seconds;
    let rssSync = 0;
    let rounds = 0;
    for (;;) {
      rounds++;
      const sync = await measure(process.execPath, [...GROVE_CMD, '--home', homeA, '--json', 'sync'], { env: groveEnv, timeoutMs: left(), reaper, stdout: true });
      seconds += sync.seconds;
      rssSync = Math.max(rssSync, sync.rss ?? 0);
      const held = new Set(listObjects(homePaths(homeB).chunks).map(objectName));
      const missing = expected.filter((h) => !held.has(h)).length;
      if (missing === 0) break;
      if (performance.now() >= deadline - 1000) throw new TimeoutError(`B still misses ${missing} of ${expected.length} objects after ${rounds} rounds`);
      const errors = (JSON.parse(sync.stdout || '{}') as { errors?: unknown[] }).errors ?? [];
      log(`  grove: B misses ${missing} of ${expected.length} objects after round ${rounds}${errors.length ? ` (errors: ${JSON.stringify(errors).slice(0, 300)})` : ''}; another round`);
    }
    log(`  grove: add ${add.seconds.toFixed(3)} s, then ${rounds} sync round(s) ${(seconds - add.seconds).toFixed(3)} s`);
    return {
      seconds, addSeconds: add.seconds, rounds, rssA: a.peakRss(), rssB: b.peakRss(),
      ...(add.rss ? { rssAdd: add.rss } : {}), ...(rssSync ? { rssSync } : {}),
    };
  } finally {
    await Promise.all([a?.stop(), b?.stop()]);
    await reaper.remove(base);
    settle();
  }
}

const objectName = (p: string) => p.slice(-64);

/** The manifest and chunk hashes of every file version a home holds. */
function addedObjects(home: string): string[] {
  const db = new Database(homePaths(home).db, { readonly: true, fileMustExist: true });
  try {
    return [...manifestHashes(db)].flatMap((m) => [m, ...new Set(chunksOf(db, m).map((c) => c.hash))]);
  } finally {
    db.close();
  }
}

/** Two fresh Syncthing instances sharing a folder; the files linked into A's folder, then a scan on A, until B is complete. */
async function syncthingSync(reaper: Reaper, work: string, d: Data): Promise<SyncFigures> {
  const base = reaper.tempDir('st-sync-', work);
  const [a, b] = await startSyncthingPair(base, reaper);
  try {
    a.linkIn(d.files);
    const since = await b.subscribe();
    prime(work, d.bytes);
    const t0 = performance.now();
    const deadline = t0 + deadlineMs(d.w);
    const scanned = a.scan(deadlineMs(d.w));
    const complete = b.waitComplete(since, d.files.length, d.bytes, deadline);
    scanned.catch(() => {});
    complete.catch(() => {});
    // A failed scan ends the wait at once; a finished scan leaves the wait for B.
    const done = await Promise.race([complete, scanned.then(() => complete)]);
    const got = b.folderContents();
    if (got.files !== d.files.length || got.bytes !== d.bytes) throw new Error(`syncthing reported complete but B holds ${got.files} files, ${got.bytes} bytes`);
    return { seconds: (done - t0) / 1000, rssA: a.peakRss(), rssB: b.peakRss() };
  } finally {
    await Promise.all([a.stop(), b.stop()]);
    await reaper.remove(base);
    settle();
  }
}

async function syncSection(reaper: Reaper, work: string, args: Args, haveSyncthing: boolean, s: Samples): Promise<Row[]> {
  const z = sizes(args.quick);
  const rows: Row[] = [];
  const rss: Row[] = [];
  const noSt = haveSyncthing ? undefined : 'syncthing is not available';
  for (const [key, w, target] of [['sync-small', z.syncSmall, 2], ['sync-big', z.syncBig, 1.3]] as const) {
    const name = describeData(w.count, w.size);
    log(`writing ${name} of random data`);
    const reuse = key === 'sync-small' && existsSync(join(work, 'add-small')) && w.count === z.addSmall.count && w.size === z.addSmall.size;
    const d = reuse ? { path: join(work, 'add-small'), files: readdirSync(join(work, 'add-small')).sort().map((f) => join(work, 'add-small', f)), w, bytes: w.count * w.size }
      : await makeTree(join(work, key), w);
    settle();
    await rotate(args.runs, `sync ${name}`, [
      () => s.take(`${key}/grove`, () => groveSync(reaper, work, d)),
      ...(haveSyncthing ? [() => s.take(`${key}/syncthing`, () => syncthingSync(reaper, work, d))] : []),
      () => s.take(`${key}/floor`, () => diskFloor(reaper, work, w, 2)),
    ]);
    const peak = (k: string, f: keyof SyncFigures) => s.peak(k, f);
    rows.push(speedRow(`sync ${name}`, s.seconds(`${key}/grove`, args.runs), 'syncthing', s.seconds(`${key}/syncthing`, args.runs), target,
      { grove: s.why(`${key}/grove`), ref: noSt ?? s.why(`${key}/syncthing`) }));
    rows.push(
      infoRow(`sync ${name} vs disk floor`, s.seconds(`${key}/grove`, args.runs), 'disk floor', s.seconds(`${key}/floor`, args.runs)),
      infoRow(`disk floor of sync ${name} (both cells)`, s.seconds(`${key}/floor`, args.runs), 'syncthing', s.seconds(`${key}/syncthing`, args.runs)),
    );
    const gWhy = s.why(`${key}/grove`);
    rss.push(
      rssRow(`peak RSS grove add (sync ${name})`, peak(`${key}/grove`, 'rssAdd'), undefined, undefined, RSS_LIMIT_MB, gWhy),
      rssRow(`peak RSS grove sync (sync ${name})`, peak(`${key}/grove`, 'rssSync'), undefined, undefined, RSS_LIMIT_MB, gWhy),
      rssRow(`peak RSS cell A, sending ${name}`, peak(`${key}/grove`, 'rssA'), 'syncthing A', peak(`${key}/syncthing`, 'rssA'), RSS_LIMIT_MB, gWhy),
      rssRow(`peak RSS cell B, receiving ${name}`, peak(`${key}/grove`, 'rssB'), 'syncthing B', peak(`${key}/syncthing`, 'rssB'), RSS_LIMIT_MB, gWhy),
    );
    if (!reuse) await reaper.remove(d.path);
  }
  return [...rows, ...rss];
}

// --- start-up ------------------------------------------------------------------------------

/** Start-up takes well under a second: more samples for the same confidence. */
const startupRuns = (runs: number) => runs * 5;

async function startupSection(reaper: Reaper, work: string, args: Args, s: Samples): Promise<Row[]> {
  const home = join(reaper.tempDir('startup-', work), 'home');
  initBenchHome(home, 'startup');
  const cell = await startDaemon(home, reaper);
  try {
    const opts = { env: groveEnv, timeoutMs: 60_000, reaper };
    const steps: [string, string[]][] = [
      ['startup/node', ['-e', '0']],
      ['startup/id', [...GROVE_CMD, '--home', home, 'id']],
      ['startup/status', [...GROVE_CMD, '--home', home, 'status']],
    ];
    for (const [, argv] of steps) await measure(process.execPath, argv, opts); // warm the file cache
    const runs = startupRuns(args.runs);
    await rotate(runs, 'start-up', steps.map(([key, argv]) => () => s.take(key, () => measure(process.execPath, argv, opts))));
    const n = runs;
    const nodeWhy = s.why('startup/node');
    return [
      startupRow('start-up grove id', s.seconds('startup/id', n), 'node -e 0', s.seconds('startup/node', n), 2.5, { grove: s.why('startup/id'), ref: nodeWhy }),
      startupRow('start-up grove status', s.seconds('startup/status', n), 'node -e 0', s.seconds('startup/node', n), 2.5, { grove: s.why('startup/status'), ref: nodeWhy }),
      rssRow('peak RSS grove id', s.peak('startup/id'), 'node -e 0', s.peak('startup/node'), RSS_LIMIT_MB, s.why('startup/id')),
      rssRow('peak RSS grove status', s.peak('startup/status'), 'node -e 0', s.peak('startup/node'), RSS_LIMIT_MB, s.why('startup/status')),
    ];
  } finally {
    await cell.stop();
    await reaper.remove(join(home, '..'));
  }
}

// --- main ----------------------------------------------------------------------------------

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(GROVE)) throw new Error(`grove executable not found at ${GROVE}`);
  const reaper = new Reaper().install();
  const before: MachineInfo = machineInfo();
  const haveRestic = args.only.has('add') && ensureDebianTool('restic', 'restic', ['version']);
  const haveSyncthing = args.only.has('sync') && ensureDebianTool(SYNCTHING, 'syncthing', ['--version']);
  const versions = {
    ...(haveRestic ? { restic: run('restic', ['version']).trim().split(' ').slice(0, 2).join(' ') } : {}),
    ...(haveSyncthing ? { syncthing: syncthingVersion() } : {}),
  };
  const work = reaper.tempDir('grove-bench-all-', args.dir);
  const s = new Samples();
  const rows: Row[] = [];
  const rssAdd: Row[] = [];
  const started = performance.now();
  try {
    if (args.only.has('add')) {
      rows.push(...await addSection(reaper, work, args, haveRestic, s));
      const z = sizes(args.quick);
      rssAdd.push(
        rssRow(`peak RSS grove add ${describeData(z.addSmall.count, z.addSmall.size)}`, s.peak('add-small/grove'), 'restic', s.peak('add-small/restic'), RSS_LIMIT_MB, s.why('add-small/grove')),
        rssRow(`peak RSS grove add ${describeData(1, z.addBig.size)}`, s.peak('add-big/grove'), 'restic', s.peak('add-big/restic'), RSS_LIMIT_MB, s.why('add-big/grove')),
      );
    }
    let syncRows: Row[] = [];
    if (args.only.has('sync')) syncRows = await syncSection(reaper, work, args, haveSyncthing, s);
    const speed = syncRows.filter((r) => !r.work.startsWith('peak RSS'));
    rows.push(...speed);
    let startupRows: Row[] = [];
    if (args.only.has('startup')) startupRows = await startupSection(reaper, work, args, s);
    rows.push(...startupRows.filter((r) => !r.work.startsWith('peak RSS')), ...rssAdd, ...syncRows.filter((r) => r.work.startsWith('peak RSS')), ...startupRows.filter((r) => r.work.startsWith('peak RSS')));
  } finally {
    await reaper.remove(work);
  }
  const after = machineInfo();
  const report = {
    machine: { ...before, load_after: after.load },
    versions,
    runs: args.runs,
    quick: args.quick,
    minutes: Math.round((performance.now() - started) / 600) / 100,
    rows,
    samples: s.json(),
  };
  if (args.json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return;
  }
  const counts = { pass: 0, fail: 0, skipped: 0, info: 0 };
  for (const r of rows) counts[r.status]++;
  process.stdout.write([
    `machine: ${formatMachine(before)}`,
    `load average after: ${after.load.map((x) => x.toFixed(2)).join(' ')}; ${report.minutes} min`,
    `references: ${Object.values(versions).join(', ') || 'none'}`,
    `median of ${args.runs} run(s) (start-up: ${startupRuns(args.runs)})${args.quick ? ', --quick sizes' : ''}; tools interleaved in rotating order, page cache primed before each measured step`,
    'ratio: reference time / grove time (higher is better); for start-up, grove time / node time (lower is better)',
    'disk floor: the same objects only written and fsynced (no reading, crypto or database; for a sync, twice: both cells): what one file per object costs this disk',
    '',
    formatTable(rows),
    '',
    `${counts.pass} pass, ${counts.fail} fail, ${counts.skipped} skipped`,
  ].join('\n') + '\n');
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1); // the reaper kills what is left on the way out
});
