// Measuring helpers shared by the benchmarks: spawning a command and taking its wall time and
// peak RSS, temporary directories and child processes that are cleaned up on every exit path
// (Ctrl-C included), fresh random data, page-cache priming, Debian reference tools, and
// `grove start` daemons on loopback.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { randomFill } from 'node:crypto';
import { once } from 'node:events';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer } from 'node:net';
import { nodeFlagsOf } from '../src/daemon/node-flags.js';

/** The real executable, as users run it (bench code runs from dist/bench/). */
export const GROVE = fileURLToPath(new URL('../../bin/grove', import.meta.url));
/** How the benches start grove: through `node`, with the options of bin/grove's `#!` line, as `./bin/grove` runs. */
export const GROVE_CMD: readonly string[] = [...nodeFlagsOf(GROVE), GROVE];
export const BENCH_PASSWORD = 'bench-password-1';
const TIME = '/usr/bin/time';

export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)i?B?$/i.exec(s.trim());
  if (!m) throw new Error(`bad size: ${s} (use e.g. 256M, 1G, 4G)`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  return Math.round(Number(m[1]) * mult);
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export class TimeoutError extends Error {}

/**
 * Owns what a benchmark leaves behind: child processes (each spawned as the leader of its own
 * process group, so a kill reaches its children too) and temporary directories. `install()`
 * makes Ctrl-C, SIGTERM, an uncaught error and a normal exit all kill every tracked process
 * group and remove every tracked directory, so a hung reference tool never outlives the bench.
 */
export class Reaper {
  private readonly children = new Set<ChildProcess>();
  private readonly paths = new Set<string>();
  private installed = false;

  install(): this {
    if (this.installed) return this;
    this.installed = true;
    process.on('exit', () => this.cleanup());
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => {
        process.stderr.write(`\nbench: ${sig}: stopping child processes and removing temporary files\n`);
        this.cleanup();
        process.exit(sig === 'SIGINT' ? 130 : 143);
      });
    }
    return this;
  }

  /** Spawns `cmd` as a process-group leader that dies with the bench. */
  spawn(cmd: string, args: string[], opts: Parameters<typeof spawn>[2] = {}): ChildProcess {
    const child = spawn(cmd, args, { ...opts, detached: true });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /** A fresh directory under `parent` (default: the OS temp dir), removed at exit. */
  tempDir(prefix: string, parent = tmpdir()): string {
    mkdirSync(parent, { recursive: true });
    const dir = mkdtempSync(join(parent, prefix));
    this.paths.add(dir);
    return dir;
  }

  /** Removes `path` at exit unless `remove` has removed it before. */
  track(path: string): string {
    this.paths.add(path);
    return path;
  }

  /** Removes a directory or file now (and forgets it). */
  async remove(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
    this.paths.delete(path);
  }

  /** Kills one tracked child's process group. */
  kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
    killGroup(child, signal);
  }

  cleanup(): void {
    for (const c of this.children) killGroup(c, 'SIGKILL');
    this.children.clear();
    for (const d of this.paths) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch { /* best effort at exit */ }
    }
    this.paths.clear();
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch { /* already gone */ }
  }
}

export interface Measured {
  seconds: number;
  /** Peak resident set size of the measured process in bytes (undefined if unknown). */
  rss?: number;
  /** Standard output, when asked for. */
  stdout?: string;
}

export interface MeasureOptions {
  env?: NodeJS.ProcessEnv;
  /** Kill the command (and its process group) after this long, and throw a TimeoutError. */
  timeoutMs?: number;
  /** Keep standard output (for commands that report JSON). */
  stdout?: boolean;
  /** Track the child so that it dies with the bench. */
  reaper?: Reaper;
}

/**
 * Runs a command to completion and measures wall time and peak RSS. With /usr/bin/time
 * the kernel's own max-RSS figure (`%M`) is used; otherwise VmHWM is polled from /proc.
 */
export async function measure(cmd: string, args: string[], opts: MeasureOptions = {}): Promise<Measured> {
  const useTime = existsSync(TIME);
  const statsFile = join(tmpdir(), `grove-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  opts.reaper?.track(statsFile);
  const argv = useTime ? ['-f', '%M', '-o', statsFile, cmd, ...args] : args;
  const spawnOpts = { stdio: ['ignore', opts.stdout ? 'pipe' : 'ignore', 'pipe'] as ('ignore' | 'pipe')[], env: { ...process.env, ...opts.env } };
  const start = process.hrtime.bigint();
  const child = opts.reaper ? opts.reaper.spawn(useTime ? TIME : cmd, argv, spawnOpts) : spawn(useTime ? TIME : cmd, argv, spawnOpts);
  let stderr = '';
  let stdout = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  let hwm = 0;
  const poll = useTime ? undefined : setInterval(() => {
    const r = peakRss(child.pid!);
    if (r) hwm = Math.max(hwm, r);
  }, 10);
  let timedOut = false;
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    killGroup(child, 'SIGKILL');
  }, opts.timeoutMs);
  try {
    const [code] = (await once(child, 'close')) as [number | null];
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (timedOut) throw new TimeoutError(`${cmd} ${args.join(' ')} took longer than ${(opts.timeoutMs! / 1000).toFixed(0)} s; killed`);
    if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${code}): ${stderr.trim().split('\n').pop()}`);
    let rss: number | undefined = hwm || undefined;
    if (useTime) {
      const kb = Number((await readFile(statsFile, 'utf8')).trim().split('\n').pop());
      if (Number.isFinite(kb)) rss = kb * 1024;
    }
    return { seconds, ...(rss !== undefined ? { rss } : {}), ...(opts.stdout ? { stdout } : {}) };
  } finally {
    clearTimeout(timer);
    if (poll) clearInterval(poll);
    await (opts.reaper ? opts.reaper.remove(statsFile) : rm(statsFile, { force: true }));
  }
}

/** Runs a setup command (not measured); throws with its last line of stderr if it fails. */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): string {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', env: { ...process.env, ...env }, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${String(r.stderr).trim().split('\n').pop()}`);
  return r.stdout;
}

/** Peak RSS (VmHWM) of a live process in bytes, or undefined once it is gone. */
export function peakRss(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Sum of the peak RSS of a process and all its descendants (a supervisor and its worker). */
export function treePeakRss(pid: number): number | undefined {
  const own = peakRss(pid);
  if (own === undefined) return undefined;
  let total = own;
  for (const child of childPids(pid)) total += treePeakRss(child) ?? 0;
  return total;
}

function childPids(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch {
    return [];
  }
}

/**
 * On a VM whose balloon reports free pages to the host (this one does), memory freed a
 * moment ago is still backed by the host and fast to write into, while memory freed
 * earlier faults on the host at every page: measured, 1-3 s more per GiB written. A tool
 * that happens to start right after a big delete wins. `prime` writes and deletes a
 * scratch file as large as the data immediately before every measured command, so that all
 * of them start from the same state.
 */
export function prime(work: string, size: number): void {
  const scratch = join(work, 'prime.tmp');
  spawnSync('dd', ['if=/dev/zero', `of=${scratch}`, 'bs=4M', `count=${Math.max(1, Math.ceil(size / (4 * 1024 * 1024)))}`, 'status=none']);
  spawnSync('rm', ['-f', scratch]);
  settle();
}

/** Flush dirty pages so one measurement's writeback does not land in the next one. */
export function settle(): void {
  spawnSync('sync');
}

export async function writeRandomFile(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  const block = 4 * 1024 * 1024;
  for (let done = 0; done < size;) {
    const n = Math.min(block, size - done);
    const buf = Buffer.allocUnsafe(n);
    await new Promise<void>((resolve, reject) => randomFill(buf, (e) => (e ? reject(e) : resolve())));
    if (!out.write(buf)) await once(out, 'drain');
    done += n;
  }
  out.end();
  await once(out, 'finish');
}

/** `count` files of `size` random bytes each (f0000.bin, …) in a new directory `dir`. */
export async function writeRandomTree(dir: string, count: number, size: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const width = String(Math.max(0, count - 1)).length;
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const f = join(dir, `f${String(i).padStart(width, '0')}.bin`);
    await writeRandomFile(f, size);
    files.push(f);
  }
  return files;
}

/**
 * Makes sure Debian's `pkg` provides `bin`: installs it with apt-get when absent (the bench
 * may run as root). Returns false, after saying why on stderr, when that is not possible.
 */
export function ensureDebianTool(bin: string, pkg: string, versionArgs: string[]): boolean {
  const works = () => spawnSync(bin, versionArgs, { stdio: 'ignore', timeout: 30_000 }).status === 0;
  if (works()) return true;
  if (process.getuid?.() !== 0) {
    process.stderr.write(`bench: ${bin} not found and not running as root: install it with \`sudo apt-get install ${pkg}\`; its rows are skipped\n`);
    return false;
  }
  const apt = (args: string[]) => spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 600_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  process.stderr.write(`bench: ${bin} not found; installing Debian's ${pkg} (apt-get install -y ${pkg})\n`);
  let r = apt(['install', '-y', pkg]);
  if (r.status !== 0) {
    process.stderr.write('bench: apt-get install failed; running apt-get update and trying again\n');
    apt(['update']);
    r = apt(['install', '-y', pkg]);
  }
  if (r.status === 0 && works()) return true;
  const why = r.error?.message ?? String(r.stderr ?? '').trim().split('\n').pop() ?? `exit ${r.status}`;
  process.stderr.write(`bench: could not install ${pkg} (${why}); the rows measured against ${bin} are skipped\n`);
  return false;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  ram_gib: number;
  load: [number, number, number];
  node: string;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  const [l1, l5, l15] = loadavg() as [number, number, number];
  return {
    cpu: (cpus()[0]?.model ?? 'unknown cpu').trim(),
    cores: cpus().length,
    ram_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    load: [l1, l5, l15].map((x) => Math.round(x * 100) / 100) as [number, number, number],
    node: process.version,
    kernel: release(),
  };
}

// --- Grove cells on loopback ---------------------------------------------------------------

/** Runs a `grove` command against a home (not measured) and returns its stdout. */
export function groveCli(home: string, args: string[], timeoutMs = 120_000): string {
  return run(process.execPath, [...GROVE_CMD, '--home', home, ...args], { GROVE_DASHBOARD_PASSWORD: BENCH_PASSWORD }, timeoutMs);
}

/**
 * A new home for a benchmark cell: one peer copy is enough (two cells), no background round
 * for a day (rounds are started by hand), no mDNS announcements.
 */
export function initBenchHome(home: string, name: string): void {
  groveCli(home, ['init', '--name', name]);
  groveCli(home, ['config', 'set', 'replication.factor', '1']);
  groveCli(home, ['config', 'set', 'sync.interval_s', '86400']);
  groveCli(home, ['config', 'set', 'mdns.enabled', 'false']);
}

export interface Daemon {
  pid: number;
  url: string;
  /** Peak RSS so far, in bytes. */
  peakRss(): number | undefined;
  stop(): Promise<void>;
}

/** `grove start` on loopback (random ports, dashboard on a random port too). */
export async function startDaemon(home: string, reaper?: Reaper, timeoutMs = 60_000): Promise<Daemon> {
  const args = [...GROVE_CMD, '--home', home, '--json', 'start', '--host', '127.0.0.1', '--port', '0', '--dashboard-port', '0'];
  const opts = { stdio: ['ignore', 'pipe', 'pipe'] as ('ignore' | 'pipe')[], env: { ...process.env, GROVE_DASHBOARD_PASSWORD: BENCH_PASSWORD } };
  const child = reaper ? reaper.spawn(process.execPath, args, opts) : spawn(process.execPath, args, opts);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4096); });
  const url = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new TimeoutError(`grove start did not come up within ${timeoutMs / 1000} s`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"id"'));
      if (line) {
        clearTimeout(timer);
        res((JSON.parse(line) as { api_url: string }).api_url);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`grove start exited ${code}: ${err.trim().split('\n').pop()}`));
    });
  }).catch((e: unknown) => {
    killGroup(child, 'SIGKILL');
    throw e;
  });
  child.stdout!.resume();
  return {
    pid: child.pid!,
    url,
    peakRss: () => peakRss(child.pid!),
    stop: () => stopChild(child, 15_000),
  };
}

/** SIGTERM, then SIGKILL to the whole group if it has not exited within `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Pairs two running cells: an invite on `a`, redeemed on `b`, then `a` probes its peers. */
export function pairCells(homeA: string, homeB: string): void {
  const code = (JSON.parse(groveCli(homeA, ['--json', 'invite'])) as { code: string }).code;
  groveCli(homeB, ['pair', code]);
  groveCli(homeA, ['peers', '--probe']);
}

/** Paths of the objects in a store directory (`chunks/xx/<64 hex>`). */
export function listObjects(dir: string): string[] {
  const out: string[] = [];
  if (!existsSync(dir)) return out;
  for (const shard of readdirSync(dir)) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const n of readdirSync(join(dir, shard))) if (/^[0-9a-f]{64}$/.test(n)) out.push(join(dir, shard, n));
  }
  return out;
}
