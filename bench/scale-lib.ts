// Helpers of bench:scale (cells on loopback with a big catalog); the shared ones are in lib.ts.
// Small helpers for benches that drive the real `bin/grove`: run a command and measure its
// wall time and peak RSS, run cells on loopback, describe the machine.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';

import { GROVE, GROVE_CMD, freePort, median, peakRss } from './lib.js';

export { GROVE, GROVE_CMD, freePort, median };
const TIME = '/usr/bin/time';

export const BENCH_ENV = { GROVE_DASHBOARD_PASSWORD: 'bench-password-1' };

export interface Measured {
  seconds: number;
  /** Peak resident set size in bytes (undefined if unknown). */
  rss?: number;
  /** Seconds until `firstBytes` of stdout had arrived (or the command ended). */
  firstSeconds?: number;
  stdoutBytes: number;
  stdout: string;
}

/**
 * Runs a command to completion; wall time and peak RSS (the kernel's max RSS through
 * /usr/bin/time, else VmHWM polled from /proc). With `firstBytes`, also the time until that
 * much of stdout arrived: how long a user waits for the first screen.
 */
export async function measure(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; firstBytes?: number; keepStdout?: boolean } = {}): Promise<Measured> {
  const useTime = existsSync(TIME);
  const statsFile = join(tmpdir(), `grove-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const argv = useTime ? ['-f', '%M', '-o', statsFile, cmd, ...args] : args;
  const start = process.hrtime.bigint();
  const child = spawn(useTime ? TIME : cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...BENCH_ENV, ...opts.env } });
  let stderr = '';
  let stdout = '';
  let stdoutBytes = 0;
  let firstSeconds: number | undefined;
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  child.stdout.on('data', (d: Buffer) => {
    stdoutBytes += d.length;
    if (opts.keepStdout) stdout += d.toString();
    if (opts.firstBytes !== undefined && firstSeconds === undefined && stdoutBytes >= opts.firstBytes) {
      firstSeconds = Number(process.hrtime.bigint() - start) / 1e9;
    }
  });
  let hwm = 0;
  const poll = useTime ? undefined : setInterval(() => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
      if (m) hwm = Math.max(hwm, Number(m[1]) * 1024);
    } catch { /* exited */ }
  }, 10);
  const [code] = (await once(child, 'close')) as [number | null];
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  if (poll) clearInterval(poll);
  let rss: number | undefined = hwm || undefined;
  if (useTime) {
    try {
      const kb = Number(readFileSync(statsFile, 'utf8').trim().split('\n').pop());
      if (Number.isFinite(kb)) rss = kb * 1024;
    } catch { /* no figure */ }
    rmSync(statsFile, { force: true });
  }
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
  return { seconds, ...(rss !== undefined ? { rss } : {}), ...(opts.firstBytes !== undefined ? { firstSeconds: firstSeconds ?? seconds } : {}), stdoutBytes, stdout };
}

/** `grove --home HOME ARGS…`, synchronously; returns stdout, throws with stderr on failure. */
export function grove(home: string, args: string[]): string {
  const r = spawnSync(process.execPath, [...GROVE_CMD, '--home', home, ...args], {
    encoding: 'utf8', env: { ...process.env, ...BENCH_ENV }, maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`grove ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export interface RunningCell {
  pid: number;
  url: string;
  /** VmHWM of the cell process so far, bytes. */
  peakRss(): number;
  stop(): Promise<void>;
}

/** `grove start` on 127.0.0.1 (port 0 = any), dashboard on any port; resolves once it listens. */
export async function startCell(home: string, port = 0): Promise<RunningCell> {
  const child = spawn(process.execPath, [...GROVE_CMD, '--home', home, '--json', 'start', '--host', '127.0.0.1', '--port', String(port), '--dashboard-port', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...BENCH_ENV } });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-4000); });
  const url = await new Promise<string>((res, rej) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) res((JSON.parse(line) as { api_url: string }).api_url);
    });
    child.on('exit', (code) => rej(new Error(`grove start exited ${code}: ${err.trim().split('\n').pop()}`)));
  });
  return {
    pid: child.pid!,
    url,
    peakRss: () => peakRssOf(child.pid!),
    stop: () => new Promise<void>((res) => {
      if (child.exitCode !== null) return res();
      child.once('exit', () => res());
      child.kill('SIGTERM');
    }),
  };
}

/** VmHWM of a live process, bytes (NaN once it is gone). */
export function peakRssOf(pid: number): number {
  return peakRss(pid) ?? NaN;
}

/** CPU, cores, memory, Node, and the load averages now. */
export function machine(): string {
  const cpu = cpus()[0]?.model?.trim() ?? 'unknown cpu';
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  return `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load ${load}`;
}
