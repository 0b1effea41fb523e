// `npm run bench:scale [-- --files 100000 --objects 1000000 --runs 3 --dir /tmp --keep | --reuse DIR]`
//
// How a cell behaves with a big catalog: 100 000 files / 1 000 000 objects by default. The
// measured commands are the real executable (`bin/grove`, separate processes); wall time and
// peak RSS come from /usr/bin/time (else /proc VmHWM).
//
// The catalog is not ingested (that would take hours): the bench writes its rows directly,
// through the owning modules' own functions (`recordObjects` of src/store/catalog.ts,
// `insertVersion` of src/ingest/files.ts, `setInventorySeq` of src/sync/placements.ts) and
// one prepared INSERT into `placements`, into a database opened with `openDb`, so the schema,
// triggers and counters are the ones the migrations create. The objects do not exist on
// disk. What would read them, and how that is accounted for:
//   - storage challenges in the sync round: the holder answers "no proof" for a missing file
//     and the owner skips a hash whose own copy is missing, so the round still sends one
//     challenge of 8 hashes per holder, as with the files present, and drops nothing;
//   - the temp-file sweep of `grove add` lists the object shards (a cost that grows with
//     the number of object files): with empty shards it is not measured here; see below;
//   - nothing else among the measured commands opens an object file.
//
// Cells: "big" (the catalog) paired with "big-holder", which holds a copy of every object
// (its catalog lists them all, owned by "big"); "small" (--small-files / --small-objects)
// paired with "small-holder" the same way; "empty" (no files) for `grove add`. Replication
// factor 1, so every object is fully placed. Each owner reaches its holder through a TCP proxy
// started by the bench, which counts the bytes of an idle round on the wire (TLS included),
// after two rounds that settle what the first start finds (benchmarks, the recovery index).
// Times include each command's start-up, shown on its own for the empty and small cells.
//
// Printed: one table (figure, target, pass/fail) and the machine (cores, load).

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDb } from '../src/store/db.js';
import { recordObjects } from '../src/store/catalog.js';
import { insertVersion } from '../src/ingest/files.js';
import { setInventorySeq } from '../src/sync/placements.js';
import { getMeta } from '../src/store/db.js';
import { GROVE_CMD, freePort, grove, machine, measure, median, startCell, type Measured, type RunningCell } from './scale-lib.js';
import { planProbe } from './scale-plan.js';

interface Args {
  files: number;
  objects: number;
  smallFiles: number;
  smallObjects: number;
  runs: number;
  dir: string;
  keep: boolean;
  json: boolean;
  /** A work directory kept by an earlier run (--keep): its cells and catalogs are used again. */
  reuse?: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { files: 100_000, objects: 1_000_000, smallFiles: 100, smallObjects: 1000, runs: 3, dir: tmpdir(), keep: false, json: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = () => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    const n = () => {
      const x = Number(v());
      if (!Number.isSafeInteger(x) || x < 1) throw new Error(`${k} needs a positive integer`);
      return x;
    };
    if (k === '--files') a.files = n();
    else if (k === '--objects') a.objects = n();
    else if (k === '--small-files') a.smallFiles = n();
    else if (k === '--small-objects') a.smallObjects = n();
    else if (k === '--runs') a.runs = n();
    else if (k === '--dir') a.dir = v();
    else if (k === '--keep') a.keep = true;
    else if (k === '--json') a.json = true;
    else if (k === '--reuse') { a.reuse = v(); a.keep = true; }
    else throw new Error(`unknown option ${k} (known: --files, --objects, --small-files, --small-objects, --runs, --dir, --keep, --reuse DIR, --json)`);
  }
  if (a.objects < 2 * a.files || a.smallObjects < 2 * a.smallFiles) throw new Error('each file needs a manifest and at least one chunk: objects >= 2 x files');
  return a;
}

const log = (s: string) => process.stderr.write(`${s}\n`);
const CHUNK = 4 * 1024 * 1024;
const TAG = 16;

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Writes the catalog of `files` files and `objects` objects (a manifest and chunks per file)
 * owned by `owner` into its home, every object confirmed at `holder`; and the holder's side:
 * a reference for `owner` to each object. Returns the number of objects.
 */
function generateCatalog(ownerHome: string, owner: string, holderHome: string, holder: string, files: number, objects: number, seed: string): number {
  const db = openDb(join(ownerHome, 'placement.db'));
  const hdb = openDb(join(holderHome, 'placement.db'));
  // Writing is setup, not measured: a big page cache keeps the random-keyed indexes in memory.
  for (const d of [db, hdb]) d.pragma('cache_size = -262144');
  const now = Date.now();
  const chunksTotal = objects - files;
  const base = Math.floor(chunksTotal / files);
  const extra = chunksTotal - base * files;
  const placement = db.prepare(`INSERT INTO placements(hash, peer_id, state, updated_at) VALUES (?, ?, 'confirmed', ?)
    ON CONFLICT(hash, peer_id) DO UPDATE SET state = 'confirmed', updated_at = excluded.updated_at`);
  const BATCH = 1000;
  let written = 0;
  for (let from = 0; from < files; from += BATCH) {
    const rows: { hash: string; size: number; kind: 'chunk' | 'manifest'; owner: string }[] = [];
    const versions: { v: Parameters<typeof insertVersion>[1]; chunks: Parameters<typeof insertVersion>[2] }[] = [];
    for (let i = from; i < Math.min(files, from + BATCH); i++) {
      const k = base + (i < extra ? 1 : 0);
      const last = 1 + (Number.parseInt(sha(`${seed}:len:${i}`).slice(0, 8), 16) % CHUNK);
      const chunks = Array.from({ length: k }, (_, j) => ({ hash: sha(`${seed}:chunk:${i}:${j}`), size: j < k - 1 ? CHUNK : last, index: j }));
      const manifest = sha(`${seed}:manifest:${i}`);
      for (const c of chunks) rows.push({ hash: c.hash, size: c.size + TAG, kind: 'chunk', owner });
      rows.push({ hash: manifest, size: 400 + 100 * k, kind: 'manifest', owner });
      const path = `/data/photos/${String(Math.floor(i / 500)).padStart(4, '0')}/IMG_${String(i).padStart(7, '0')}.jpg`;
      versions.push({
        v: {
          path, name: path.slice(path.lastIndexOf('/') + 1), version: 1, size: (k - 1) * CHUNK + last,
          file_hash: sha(`${seed}:file:${i}`), manifest_hash: manifest, chunks: k, added_at: now - (files - i) * 1000,
        },
        chunks,
      });
    }
    db.transaction(() => {
      recordObjects(db, rows, now);
      for (const x of versions) insertVersion(db, x.v, x.chunks);
      for (const r of rows) placement.run(r.hash, holder, now);
    })();
    hdb.transaction(() => { recordObjects(hdb, rows, now); })();
    written += rows.length;
    if ((from / BATCH) % 20 === 0) log(`  ${seed}: ${written} objects written`);
  }
  // The owner has read the holder's whole inventory: the next round starts from here.
  setInventorySeq(db, holder, Number(getMeta(hdb, 'object_seq') ?? 0), now);
  for (const d of [db, hdb]) {
    d.pragma('wal_checkpoint(TRUNCATE)');
    d.close();
  }
  return written;
}

/** A TCP proxy to `target` that counts the bytes through it, both directions. */
async function countingProxy(target: number): Promise<{ port: number; bytes(): number; reset(): void; close(): Promise<void> }> {
  let bytes = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: target });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('data', (d: Buffer) => { bytes += d.length; });
      s.on('error', () => { client.destroy(); upstream.destroy(); });
      s.on('close', () => { sockets.delete(s); client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    bytes: () => bytes,
    reset: () => { bytes = 0; },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function writeRandom(path: string, size: number): void {
  const fd = openSync(path, 'w');
  try {
    for (let done = 0; done < size;) {
      const n = Math.min(4 * 1024 * 1024, size - done);
      writeSync(fd, randomBytes(n));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}

function dbBytes(home: string): number {
  let n = 0;
  for (const f of ['placement.db', 'placement.db-wal']) {
    try { n += statSync(join(home, f)).size; } catch { /* absent */ }
  }
  return n;
}

interface Pair { owner: string; holder: string; ownerId: string; holderId: string; holderPort: number }

function initCell(home: string, name: string): string {
  grove(home, ['init', '--name', name]);
  for (const [k, v] of [['replication.factor', '1'], ['sync.interval_s', '86400'], ['sync.jitter_s', '0'], ['mdns.enabled', 'false'], ['log.level', 'warn']]) {
    grove(home, ['config', 'set', k!, v!]);
  }
  return (JSON.parse(grove(home, ['--json', 'id'])) as { id: string }).id;
}

/** A pair made by an earlier run (--reuse): the holder gets a new port, reached through a new proxy anyway. */
async function reusePair(work: string, name: string): Promise<Pair> {
  const owner = join(work, name);
  const holder = join(work, `${name}-holder`);
  const id = (home: string) => {
    // The first command of this build on the home also runs the migrations it brings.
    const t0 = performance.now();
    const out = (JSON.parse(grove(home, ['--json', 'id'])) as { id: string }).id;
    log(`  ${home}: first command ${((performance.now() - t0) / 1000).toFixed(1)} s (with any new migration)`);
    return out;
  };
  return { owner, holder, ownerId: id(owner), holderId: id(holder), holderPort: await freePort() };
}

/** Two cells paired with each other (both running for the pairing), then stopped. */
async function makePair(work: string, name: string): Promise<Pair> {
  const owner = join(work, name);
  const holder = join(work, `${name}-holder`);
  const ownerId = initCell(owner, name);
  const holderId = initCell(holder, `${name}-holder`);
  // The holder agreed to keep everything its owner places there (the catalog's sizes are real).
  grove(holder, ['config', 'set', 'quota.default_bytes', String(2 ** 52)]);
  const holderPort = await freePort();
  const a = await startCell(owner);
  const b = await startCell(holder, holderPort);
  try {
    const code = (JSON.parse(grove(owner, ['--json', 'invite'])) as { code: string }).code;
    grove(holder, ['pair', code]);
  } finally {
    await b.stop();
    await a.stop();
  }
  return { owner, holder, ownerId, holderId, holderPort };
}

interface Row { figure: string; value: string; target: string; ok?: boolean }

const mb = (b: number | undefined) => (b === undefined || Number.isNaN(b) ? 'n/a' : `${(b / 1e6).toFixed(0)} MB`);
const sec = (s: number) => `${s.toFixed(3)} s`;
const RSS_LIMIT = 150e6;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const loadBefore = machine();
  const work = args.reuse ?? mkdtempSync(join(args.dir, 'grove-bench-scale-'));
  const running: RunningCell[] = [];
  const proxies: { close(): Promise<void> }[] = [];
  const rows: Row[] = [];
  const rss: { name: string; rss: number | undefined }[] = [];
  const note = (name: string, m: Measured | { rss?: number }) => rss.push({ name, rss: m.rss });
  try {
    log(`work directory ${work}`);
    const statePath = join(work, 'bench-state.json');
    const big = args.reuse ? await reusePair(work, 'big') : await makePair(work, 'big');
    const small = args.reuse ? await reusePair(work, 'small') : await makePair(work, 'small');
    const empty = join(work, 'empty');
    if (!args.reuse) initCell(empty, 'empty');

    const proxyBig = await countingProxy(big.holderPort);
    const proxySmall = await countingProxy(small.holderPort);
    proxies.push(proxyBig, proxySmall);
    for (const [p, proxy] of [[big, proxyBig], [small, proxySmall]] as const) {
      const peers = JSON.parse(grove(p.owner, ['--json', 'peers'])) as { peers: { id: string; routes: { url: string }[] }[] };
      for (const r of peers.peers.find((x) => x.id === p.holderId)?.routes ?? []) grove(p.owner, ['route', 'rm', p.holderId, r.url]);
      grove(p.owner, ['route', 'add', p.holderId, `https://127.0.0.1:${proxy.port}`]);
    }

    let state: { objects: number; generatedSeconds: number; files: number; smallFiles: number; smallObjects: number };
    if (args.reuse) {
      try {
        state = JSON.parse(readFileSync(statePath, 'utf8')) as typeof state;
      } catch {
        const db = openDb(join(big.owner, 'placement.db'));
        const count = (q: string) => db.prepare(q).pluck().get() as number;
        state = { objects: count("SELECT COUNT(*) FROM objects WHERE kind IN ('chunk', 'manifest')"), files: count('SELECT COUNT(*) FROM files'), generatedSeconds: NaN, smallFiles: args.smallFiles, smallObjects: args.smallObjects };
        db.close();
      }
      Object.assign(args, { files: state.files, objects: state.objects, smallFiles: state.smallFiles, smallObjects: state.smallObjects });
      log(`reusing the catalogs of ${work}: ${state.files} files / ${state.objects} objects`);
    } else {
      log(`generating the catalogs: ${args.files} files / ${args.objects} objects, and ${args.smallFiles} / ${args.smallObjects}`);
      const t0 = performance.now();
      const objects = generateCatalog(big.owner, big.ownerId, big.holder, big.holderId, args.files, args.objects, 'big');
      const generatedSeconds = (performance.now() - t0) / 1000;
      generateCatalog(small.owner, small.ownerId, small.holder, small.holderId, args.smallFiles, args.smallObjects, 'small');
      state = { objects, generatedSeconds, files: args.files, smallFiles: args.smallFiles, smallObjects: args.smallObjects };
      writeFileSync(statePath, JSON.stringify(state));
    }
    const nBig = state.objects;
    const genSeconds = state.generatedSeconds;
    // Checkpointed: the database file holds everything (a cell that stopped cleanly leaves no WAL).
    const dbPerObject = dbBytes(big.owner) / nBig;
    const holderDbPerObject = dbBytes(big.holder) / nBig;
    log(`  catalog written in ${genSeconds.toFixed(1)} s; placement.db ${mb(dbBytes(big.owner))}, holder's ${mb(dbBytes(big.holder))}`);

    // Placement decisions, in a process of their own (its peak RSS is theirs).
    const plan = await measure(process.execPath, [new URL(import.meta.url).pathname, '--plan-probe', big.owner], { keepStdout: true });
    const planOut = JSON.parse(plan.stdout) as Awaited<ReturnType<typeof planProbe>>;
    note('placement decisions (in-process probe)', plan);

    // Idle rounds: the holders run, then the owners; one round settles (benchmark, probe,
    // recovery index), the next is the idle one, counted at the proxy.
    const bigHolder = await startCell(big.holder, big.holderPort);
    const smallHolder = await startCell(small.holder, small.holderPort);
    running.push(bigHolder, smallHolder);
    // Until it listens: the running cell checks every page of placement.db once, at start.
    let t0 = performance.now();
    const bigCell = await startCell(big.owner);
    const startBig = (performance.now() - t0) / 1000;
    t0 = performance.now();
    const smallCell = await startCell(small.owner);
    const startSmall = (performance.now() - t0) / 1000;
    running.push(bigCell, smallCell);
    const idle: Record<string, { bytes: number[]; seconds: number[]; summary: unknown }> = {};
    for (const [name, home, proxy] of [['big', big.owner, proxyBig], ['small', small.owner, proxySmall]] as const) {
      // Two rounds settle: the first places what is new (and the recovery index), the second
      // reads the holder's confirmations of it.
      for (let r = 0; r < 2; r++) {
        const settle = await measure(process.execPath, [...GROVE_CMD, '--home', home, '--json', 'sync'], { keepStdout: true });
        log(`  ${name}: settling round ${settle.seconds.toFixed(2)} s: ${settle.stdout.trim().slice(0, 400)}`);
      }
      idle[name] = { bytes: [], seconds: [], summary: undefined };
      let cliRss = 0;
      for (let r = 0; r < args.runs; r++) {
        proxy.reset();
        const m = await measure(process.execPath, [...GROVE_CMD, '--home', home, '--json', 'sync'], { keepStdout: true });
        idle[name].bytes.push(proxy.bytes());
        idle[name].seconds.push(m.seconds);
        idle[name].summary = JSON.parse(m.stdout);
        cliRss = Math.max(cliRss, m.rss ?? 0);
      }
      if (name === 'big') note('grove sync (idle round, CLI)', { rss: cliRss });
      log(`  ${name}: idle rounds ${idle[name].bytes.join(', ')} bytes; last: ${JSON.stringify(idle[name].summary).slice(0, 400)}`);
    }

    // grove status (asks the running cell) and grove ls (reads the home).
    // A command that fails (e.g. the cell does not answer in time) is a figure too.
    const failures: Record<string, string> = {};
    const timed = async (name: string, argv: string[], firstBytes?: number) => {
      const ms: Measured[] = [];
      try {
        for (let r = 0; r < args.runs; r++) ms.push(await measure(process.execPath, [...GROVE_CMD, '--home', big.owner, ...argv], { ...(firstBytes ? { firstBytes } : {}) }));
      } catch (e) {
        failures[name] = (e instanceof Error ? e.message : String(e)).split(': ').slice(-1)[0]!.slice(0, 80);
        log(`  ${name} failed: ${failures[name]}`);
        return { seconds: NaN, firstSeconds: NaN, stdoutBytes: 0, stdout: '' } as Measured;
      }
      const m: Measured = {
        seconds: median(ms.map((x) => x.seconds)),
        ...(firstBytes ? { firstSeconds: median(ms.map((x) => x.firstSeconds!)) } : {}),
        rss: Math.max(...ms.map((x) => x.rss ?? 0)),
        stdoutBytes: ms[0]!.stdoutBytes,
        stdout: '',
      };
      note(name, m);
      return m;
    };
    const status = await timed('grove status', ['status']);
    const statusJson = await timed('grove status --json', ['--json', 'status']);
    // First page: the first 50 lines of the table (~8 KB), of the JSON the first 50 files (~20 KB).
    const ls = await timed('grove ls', ['ls'], 8 * 1024);
    const lsJson = await timed('grove ls --json', ['--json', 'ls'], 20 * 1024);

    // The same commands where there is (almost) nothing: what start-up alone costs on this machine now.
    const lsEmpty: Measured[] = [];
    const statusSmall: Measured[] = [];
    for (let r = 0; r < args.runs; r++) {
      lsEmpty.push(await measure(process.execPath, [...GROVE_CMD, '--home', empty, 'ls']));
      statusSmall.push(await measure(process.execPath, [...GROVE_CMD, '--home', small.owner, 'status']));
    }

    const cellRss = { big: bigCell.peakRss(), holder: bigHolder.peakRss() };
    rss.push({ name: 'cell with the catalog (grove start)', rss: cellRss.big }, { name: 'its holder (grove start)', rss: cellRss.holder });
    for (const c of running.splice(0).reverse()) await c.stop();

    // grove add on the big cell and on the empty one, interleaved, fresh content every time.
    const src = join(work, 'src');
    mkdirSync(src, { recursive: true });
    const adds: Record<string, number[]> = { 'big small': [], 'empty small': [], 'big 64MiB': [], 'empty 64MiB': [] };
    let addRss = 0;
    for (let r = 0; r < args.runs; r++) {
      const order = r % 2 ? (['big', 'empty'] as const) : (['empty', 'big'] as const);
      for (const which of order) {
        const home = which === 'big' ? big.owner : empty;
        for (const [label, size] of [['small', 1024], ['64MiB', 64 * 1024 * 1024]] as const) {
          const f = join(src, `${which}-${label}-${r}.bin`);
          writeRandom(f, size);
          const m = await measure(process.execPath, [...GROVE_CMD, '--home', home, 'add', f]);
          adds[`${which} ${label}`]!.push(m.seconds);
          if (which === 'big') addRss = Math.max(addRss, m.rss ?? 0);
          rmSync(f);
        }
      }
    }
    rss.push({ name: 'grove add (catalog cell)', rss: addRss });

    // The table.
    const big1 = (k: string) => median(adds[k]!);
    rows.push({ figure: `grove ls, first page (${(ls.firstSeconds ?? 0) === ls.seconds ? 'whole listing' : 'first 8 KB'})`, value: sec(ls.firstSeconds!), target: '<= 0.5 s', ok: ls.firstSeconds! <= 0.5 });
    rows.push({ figure: 'grove ls, all files', value: `${sec(ls.seconds)} (${(ls.stdoutBytes / 1e6).toFixed(1)} MB)`, target: '' });
    rows.push({ figure: 'grove ls --json, first page (20 KB)', value: sec(lsJson.firstSeconds!), target: '<= 0.5 s', ok: lsJson.firstSeconds! <= 0.5 });
    rows.push({ figure: 'grove ls --json, all files', value: `${sec(lsJson.seconds)} (${(lsJson.stdoutBytes / 1e6).toFixed(1)} MB)`, target: '' });
    rows.push({ figure: 'grove ls on the empty cell (start-up cost)', value: sec(median(lsEmpty.map((m) => m.seconds))), target: '' });
    rows.push({ figure: `grove status on the small cell (${args.smallObjects} objects)`, value: sec(median(statusSmall.map((m) => m.seconds))), target: '' });
    rows.push({ figure: 'grove status', value: failures['grove status'] ?? sec(status.seconds), target: '<= 0.5 s', ok: status.seconds <= 0.5 });
    rows.push({ figure: 'grove status --json', value: failures['grove status --json'] ?? sec(statusJson.seconds), target: '<= 0.5 s', ok: statusJson.seconds <= 0.5 });
    rows.push({
      figure: `placement, whole plan of ${planOut.objects} objects`, value: `${sec(planOut.planSeconds)} (${(planOut.planSeconds * 1e3 / planOut.objects * 1e3).toFixed(2)} us/object)`,
      target: '<= 1 ms/object', ok: planOut.planSeconds * 1e3 / planOut.objects <= 1,
    });
    for (const label of ['small', '64MiB']) {
      const b = big1(`big ${label}`);
      const e = big1(`empty ${label}`);
      // "No slower": within the noise of this machine, 10% or 50 ms.
      rows.push({ figure: `grove add ${label === 'small' ? '1 KiB' : '64 MiB'} file: catalog cell vs empty cell`, value: `${sec(b)} vs ${sec(e)}`, target: '<= empty (+10%/50 ms)', ok: b <= e * 1.1 + 0.05 });
    }
    const idleBig = median(idle.big!.bytes);
    const idleSmall = median(idle.small!.bytes);
    rows.push({ figure: `idle sync round, bytes on the wire: ${args.objects} vs ${args.smallObjects} objects`, value: `${idleBig} vs ${idleSmall} B`, target: 'flat (+10%)', ok: idleBig <= idleSmall * 1.1 });
    rows.push({ figure: 'idle sync round, time (grove sync)', value: `${sec(median(idle.big!.seconds))} vs ${sec(median(idle.small!.seconds))}`, target: '' });
    rows.push({ figure: 'grove start until it listens (catalog vs small cell)', value: `${sec(startBig)} vs ${sec(startSmall)}`, target: '' });
    rows.push({ figure: 'placement.db per object (owner / holder)', value: `${dbPerObject.toFixed(0)} / ${holderDbPerObject.toFixed(0)} B`, target: '' });
    for (const r of rss) rows.push({ figure: `peak RSS: ${r.name}`, value: mb(r.rss), target: '<= 150 MB', ok: r.rss === undefined ? undefined : r.rss <= RSS_LIMIT });

    const out = {
      machine: { before: loadBefore, after: machine() },
      catalog: { files: args.files, objects: args.objects, small: { files: args.smallFiles, objects: args.smallObjects }, generated_seconds: genSeconds },
      rows, idle, adds, plan: planOut,
    };
    if (args.json) {
      process.stdout.write(JSON.stringify(out, null, 2) + '\n');
      return;
    }
    const w = [Math.max(...rows.map((r) => r.figure.length)), Math.max(...rows.map((r) => r.value.length)), Math.max(...rows.map((r) => r.target.length))];
    const lines = [
      `machine: ${loadBefore}`,
      `  after: ${machine()}`,
      `catalog: ${args.files} files / ${args.objects} objects written straight into placement.db by the owning modules' functions (not ingested); objects not on disk (see bench/scale.ts)`,
      '',
      `| ${'figure'.padEnd(w[0]!)} | ${'measured'.padEnd(w[1]!)} | ${'target'.padEnd(w[2]!)} | ok   |`,
      `|${'-'.repeat(w[0]! + 2)}|${'-'.repeat(w[1]! + 2)}|${'-'.repeat(w[2]! + 2)}|------|`,
      ...rows.map((r) => `| ${r.figure.padEnd(w[0]!)} | ${r.value.padEnd(w[1]!)} | ${r.target.padEnd(w[2]!)} | ${r.ok === undefined ? '    ' : r.ok ? 'pass' : 'FAIL'} |`),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  } finally {
    for (const c of running.reverse()) await c.stop();
    for (const p of proxies) await p.close();
    if (args.keep) log(`kept ${work}`);
    else rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--plan-probe') {
  planProbe(process.argv[3]!).then((r) => process.stdout.write(JSON.stringify(r) + '\n'), (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
} else {
  main().catch((e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
