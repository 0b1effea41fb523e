// `npm run bench:sync`: two real cells (separate `grove start` processes) on
// loopback replicate fresh files; in the same run, the same bytes go over a plain Node HTTP
// upload on loopback as the reference. Also: the idle round's bytes at 100 / 1 000 / 10 000
// objects (in-process cells, bytes counted on the holder's sockets), and each cell's peak RSS.
//
//   npm run bench:sync -- [--size 1G] [--files 16]
//   npm run bench:sync -- --mode small   1 000 files of 64 KiB (many small objects)
//   npm run bench:sync -- --mode large   16 files of 64 MiB
//   --pull then also times one round that fetches every object back (A lost them all).
//   --cpu-prof DIR writes each cell's CPU profile (one file per process) into DIR.
//   --file-size S sets each file's size instead of --size / --files; --quick skips the
//   transport and idle-round figures (the sync round and its plain-HTTP references only).
//   --transport-only runs just the transport comparison (plain HTTP, TLS direct, TLS through
//   a relay, relay RSS) on `--size` of fresh 4 MiB objects: quick enough while developing.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, createReadStream, createWriteStream, readdirSync, statSync, writeFileSync, openSync, closeSync, fdatasync } from 'node:fs';
import { createServer, request } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import Database from 'better-sqlite3';
import { initHome } from '../src/home/home.js';
import { createCell, type Cell } from '../src/cell.js';
import { createInvite, pairWithCode } from '../src/peers/pairing.js';
import { recordObject } from '../src/store/catalog.js';
import { socketCeiling, transportFigures } from './transport.js';
import { GROVE as grove, GROVE_CMD as groveCmd, parseSize } from './lib.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

function cli(home: string, args: string[]): string {
  const r = spawnSync(process.execPath, [...groveCmd, '--home', home, ...args], {
    encoding: 'utf8', env: { ...process.env, GROVE_DASHBOARD_PASSWORD: 'bench-password-1' }, maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`grove ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

interface Daemon { pid: number; url: string; stop(): Promise<void> }

/** `--cpu-prof DIR`: each cell writes a CPU profile into DIR when it stops. */
const cpuProfDir = process.argv.includes('--cpu-prof') ? resolve(arg('cpu-prof', 'cpu-prof')) : undefined;

async function startDaemon(home: string): Promise<Daemon> {
  const prof = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const child = spawn(process.execPath, [...prof, ...groveCmd, '--home', home, '--json', 'start', '--host', '127.0.0.1', '--port', '0', '--dashboard-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((res, rej) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) res((JSON.parse(line) as { api_url: string }).api_url);
    });
    child.on('exit', (code) => rej(new Error(`grove start exited ${code}`)));
  });
  return {
    pid: child.pid!,
    url,
    stop: () => new Promise<void>((res) => {
      child.once('exit', () => res());
      child.kill('SIGTERM');
    }),
  };
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

function peakRssMB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function listObjects(dir: string): string[] {
  const out: string[] = [];
  for (const shard of readdirSync(dir)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const n of readdirSync(join(dir, shard))) if (/^[0-9a-f]{64}$/.test(n)) out.push(join(dir, shard, n));
  }
  return out;
}

/**
 * The reference: the same object files PUT to a plain Node HTTP server (4 in flight, like the
 * sync round) that writes each to a file; with `fsync`, each file is made durable before the
 * answer, as a holder must before it confirms a copy.
 */
async function plainUpload(files: string[], dest: string, fsync: boolean, inflight = 4): Promise<{ bytes: number; seconds: number }> {
  let n = 0;
  const server = createServer((req, res) => {
    const path = join(dest, `f${n++}`);
    const out = createWriteStream(path);
    req.pipe(out);
    out.on('finish', () => {
      if (!fsync) return void res.end('ok');
      const fd = openSync(path, 'r');
      fdatasync(fd, () => {
        closeSync(fd);
        res.end('ok');
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  let bytes = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++]!;
      const size = statSync(f).size;
      bytes += size;
      await new Promise<void>((res, rej) => {
        const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/', headers: { 'content-length': size } }, (r) => {
          r.resume();
          r.on('end', () => res());
        });
        req.on('error', rej);
        createReadStream(f).pipe(req);
      });
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  const seconds = (performance.now() - t0) / 1000;
  server.close();
  return { bytes, seconds };
}

/** Bytes on a cell's peer-API sockets during one idle round, with `n` objects already placed. */
async function idleRoundBytes(base: string, n: number): Promise<number> {
  const cells: Cell[] = [];
  const log = pino({ level: 'silent' });
  try {
    for (const name of ['a', 'b']) {
      const home = join(base, `idle-${n}-${name}`);
      initHome(home, { name, password: 'bench-password-1', passwordIterations: 1 });
      writeFileSync(join(home, 'config.json'), JSON.stringify({ name, replication: { factor: 1 } }));
      const c = await createCell({ home, host: '127.0.0.1', port: 0, logger: log, control: false, intervals: { probeMs: 0, syncMs: 0 } });
      await c.start();
      cells.push(c);
    }
    const [a, b] = cells as [Cell, Cell];
    const open = new Set<Socket>();
    let closed = 0;
    b.app.server.on('connection', (s: Socket) => {
      open.add(s);
      s.on('close', () => { closed += s.bytesRead + s.bytesWritten; open.delete(s); });
    });
    const total = () => [...open].reduce((x, s) => x + s.bytesRead + s.bytesWritten, closed);
    await pairWithCode(b, createInvite(a).code);
    const seeded: { hash: string; size: number }[] = [];
    for (let i = 0; i < n; i++) {
      const data = Buffer.from(`object ${i} ${randomBytes(8).toString('hex')}`);
      const hash = createHash('sha256').update(data).digest('hex');
      await a.home.objects.putHashed(hash, data, { sync: false });
      await b.home.objects.putHashed(hash, data, { sync: false });
      seeded.push({ hash, size: data.length });
    }
    for (const c of [a, b]) c.home.db.transaction(() => { for (const o of seeded) recordObject(c.home.db, { ...o, kind: 'chunk', owner: a.id }, Date.now()); })();
    await a.sync.service.runNow();
    const before = total();
    await a.sync.service.runNow();
    return total() - before;
  } finally {
    for (const c of cells.reverse()) await c.stop();
  }
}

function printTransport(tr: Awaited<ReturnType<typeof transportFigures>>, ceiling?: Awaited<ReturnType<typeof socketCeiling>>): void {
  const mbs = (f: { bytes: number; seconds: number }) => f.bytes / 1e6 / f.seconds;
  console.log('transport (same objects, receiver in its own process, 4 uploads in flight, whole objects as cells send them, page cache only):');
  console.log(`  plain HTTP                 ${mbs(tr.plain).toFixed(1)} MB/s`);
  console.log(`  TLS 1.3 direct             ${mbs(tr.tls).toFixed(1)} MB/s (${(mbs(tr.tls) / mbs(tr.plain)).toFixed(2)}x plain, target ≥ 0.9)`);
  console.log(`  TLS 1.3 through a relay    ${mbs(tr.relayed).toFixed(1)} MB/s (${(mbs(tr.relayed) / mbs(tr.tls)).toFixed(2)}x direct, target ≥ 0.6; relay rate limits raised out of the way)`);
  console.log(`  relay peak RSS: ${tr.relayRss1.toFixed(0)} MB after 1 stream, ${tr.relayRss50.toFixed(0)} MB after 50 concurrent streams (target ≤ 100)`);
  if (ceiling) {
    console.log(`  Node's bare sockets, one connection, nothing done with the bytes: TCP ${mbs(ceiling.tcp).toFixed(1)} MB/s, TLS 1.3 ${mbs(ceiling.tls).toFixed(1)} MB/s (${(mbs(ceiling.tls) / mbs(ceiling.tcp)).toFixed(2)}x TCP: the ceiling of TLS in Node here)`);
  }
}

async function transportOnly(size: number): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'grove-bench-transport-'));
  try {
    const files: string[] = [];
    for (let i = 0; i * 4 * 2 ** 20 < size; i++) {
      const f = join(base, `o${i}`);
      writeFileSync(f, randomBytes(Math.min(4 * 2 ** 20, size - i * 4 * 2 ** 20)));
      files.push(f);
    }
    spawnSync('sync');
    const tr = await transportFigures(files, (name) => {
      const dir = join(base, `tr-${name}`);
      spawnSync('mkdir', ['-p', dir]);
      return dir;
    }, grove);
    const ceiling = await socketCeiling(Math.min(size, 2 ** 30));
    console.log(`data: ${files.length} objects, ${(size / 2 ** 20).toFixed(0)} MiB`);
    printTransport(tr, ceiling);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const mode = arg('mode', '');
  const preset = mode === 'small' ? { files: '1000', fileSize: '64K' } : mode === 'large' ? { files: '16', fileSize: '64M' } : undefined;
  if (mode && !preset) throw new Error(`unknown --mode ${mode} (small | large)`);
  const files = Number(arg('files', preset?.files ?? '16'));
  const fileSize = arg('file-size', preset?.fileSize ?? '');
  const size = fileSize ? parseSize(fileSize) * files : parseSize(arg('size', '1G'));
  if (process.argv.includes('--transport-only')) return transportOnly(size);
  const quick = process.argv.includes('--quick');
  const pullToo = process.argv.includes('--pull');
  const base = mkdtempSync(join(tmpdir(), 'grove-bench-sync-'));
  try {
    const homeA = join(base, 'a');
    const homeB = join(base, 'b');
    for (const [h, name] of [[homeA, 'a'], [homeB, 'b']] as const) {
      cli(h, ['init', '--name', name]);
      cli(h, ['config', 'set', 'replication.factor', '1']);
      cli(h, ['config', 'set', 'sync.interval_s', '86400']);
    }
    // Pair (both running), then stop A to add the files offline, so no round starts early.
    let a = await startDaemon(homeA);
    const b = await startDaemon(homeB);
    const code = (JSON.parse(cli(homeA, ['--json', 'invite'])) as { code: string }).code;
    cli(homeB, ['pair', code]);
    await a.stop();

    const dataDir = join(base, 'data');
    spawnSync('mkdir', ['-p', dataDir]);
    const per = Math.ceil(size / files);
    process.stderr.write(`writing ${files} files of ${(per / 2 ** 10).toFixed(0)} KiB of fresh random data…\n`);
    for (let i = 0; i < files; i++) {
      const fd = createWriteStream(join(dataDir, `f${i}.bin`));
      for (let off = 0; off < per; off += 4 * 2 ** 20) fd.write(randomBytes(Math.min(4 * 2 ** 20, per - off)));
      await new Promise<void>((r) => fd.end(() => r()));
    }
    cli(homeA, ['add', dataDir]);

    a = await startDaemon(homeA);
    cli(homeA, ['peers', '--probe']);
    spawnSync('sync'); // flush the data and objects just written, so writeback does not skew the timing
    const cpu0 = [cpuSeconds(a.pid), cpuSeconds(b.pid)];
    const t0 = performance.now();
    const summary = JSON.parse(cli(homeA, ['--json', 'sync'])) as { bytes_sent: number; pushed: number; errors: unknown[]; started_at: number; finished_at: number };
    const wallSeconds = (performance.now() - t0) / 1000;
    const syncSeconds = (summary.finished_at - summary.started_at) / 1000;
    const cpuA = cpuSeconds(a.pid) - cpu0[0]!;
    const cpuB = cpuSeconds(b.pid) - cpu0[1]!;
    const rssA = peakRssMB(a.pid);
    const rssB = peakRssMB(b.pid);
    await a.stop();
    if (summary.errors.length) process.stderr.write(`sync errors: ${JSON.stringify(summary.errors)}\n`);
    // --pull: A loses its objects (files and catalog rows; its file list stays) and the next
    // round fetches every one back from B: the recovery path, object by object.
    let pull: { seconds: number; pulled: number } | undefined;
    if (pullToo) {
      for (const f of listObjects(join(homeA, 'chunks'))) rmSync(f);
      const db = new Database(join(homeA, 'placement.db'));
      db.prepare('DELETE FROM objects').run();
      db.close();
      a = await startDaemon(homeA);
      cli(homeA, ['peers', '--probe']);
      spawnSync('sync');
      const p = JSON.parse(cli(homeA, ['--json', 'sync'])) as { pulled: number; errors: unknown[]; started_at: number; finished_at: number };
      if (p.errors.length) process.stderr.write(`pull errors: ${JSON.stringify(p.errors).slice(0, 500)}\n`);
      pull = { seconds: (p.finished_at - p.started_at) / 1000, pulled: p.pulled };
      await a.stop();
    }
    await b.stop();

    // References: best of two runs each (the page cache makes single runs noisy).
    const objectFiles = listObjects(join(homeA, 'chunks'));
    const best = async (fsync: boolean) => {
      let r = { bytes: 0, seconds: Infinity };
      for (let i = 0; i < 2; i++) {
        const dir = join(base, `ref-${fsync}-${i}`);
        spawnSync('mkdir', ['-p', dir]);
        spawnSync('sync');
        const x = await plainUpload(objectFiles, dir, fsync);
        if (x.seconds < r.seconds) r = x;
        rmSync(dir, { recursive: true, force: true });
      }
      return r;
    };
    const refDurable = await best(true);
    const refCache = await best(false);

    const groveMBs = summary.bytes_sent / 1e6 / syncSeconds;
    const durableMBs = refDurable.bytes / 1e6 / refDurable.seconds;
    const cacheMBs = refCache.bytes / 1e6 / refCache.seconds;
    // Transport: plain HTTP vs identity-bound TLS direct vs the same TLS through a relay.
    const tr = quick ? undefined : await transportFigures(objectFiles, (name) => {
      const dir = join(base, `tr-${name}`);
      spawnSync('mkdir', ['-p', dir]);
      return dir;
    }, grove);
    const ceiling = quick ? undefined : await socketCeiling(Math.min(size, 2 ** 30));
    const idle: [number, number][] = [];
    if (!quick) for (const n of [100, 1000, 10_000]) idle.push([n, await idleRoundBytes(base, n)]);
    const row = (name: string, bytes: number, sec: number, mbs: number) =>
      `| ${name.padEnd(44)} | ${(bytes / 1e6).toFixed(0).padStart(6)} | ${sec.toFixed(2).padStart(6)} | ${mbs.toFixed(1).padStart(6)} | ${(groveMBs / mbs).toFixed(2).padStart(10)} |`;

    const cpu = cpus()[0]?.model ?? 'unknown cpu';
    console.log(`machine: ${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`);
    console.log(`data: ${files} files of ${(Math.ceil(size / files) / 2 ** 10).toFixed(0)} KiB, ${(size / 2 ** 20).toFixed(0)} MiB (${summary.pushed} objects pushed); load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
    console.log('');
    console.log(`| ${'transfer'.padEnd(44)} |     MB |      s |   MB/s | grove/this |`);
    console.log(`|${'-'.repeat(46)}|-------:|-------:|-------:|-----------:|`);
    console.log(row('grove sync round (A → B, signed, durable)', summary.bytes_sent, syncSeconds, groveMBs));
    console.log(row('plain HTTP upload, fsync per object (ref)', refDurable.bytes, refDurable.seconds, durableMBs));
    console.log(row('plain HTTP upload, page cache only', refCache.bytes, refCache.seconds, cacheMBs));
    console.log('');
    console.log(`grove/plain (durable) ratio: ${(groveMBs / durableMBs).toFixed(2)} (target ≥ 0.70); grove/plain (page cache): ${(groveMBs / cacheMBs).toFixed(2)}`);
    console.log(`\`grove sync\` wall time including CLI start, probe and benchmark: ${wallSeconds.toFixed(2)} s`);
    console.log(`peak RSS: cell A ${rssA.toFixed(0)} MB, cell B ${rssB.toFixed(0)} MB`);
    console.log(`CPU during \`grove sync\`: cell A ${cpuA.toFixed(2)} s, cell B ${cpuB.toFixed(2)} s`);
    if (pull) console.log(`pull back (A lost its objects, one round fetches them from B): ${pull.pulled} objects in ${pull.seconds.toFixed(2)} s`);
    if (!tr) return;
    console.log('');
    printTransport(tr, ceiling);
    console.log('idle round bytes (both directions, on the holder\'s sockets):');
    for (const [n, bytes] of idle) console.log(`  ${String(n).padStart(6)} objects: ${bytes} bytes`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
