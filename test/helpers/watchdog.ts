import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { TestContext } from 'node:test';
import { GROVE_BIN, waitFor } from './ingest.js';
import { CLI_ENV } from './cli.js';
import { homePaths } from '../../src/home/paths.js';
import { callControl } from '../../src/daemon/control-client.js';
import type { CellStatus } from '../../src/cell.js';

// Running `grove watchdog` as a real process (from a given installation) and asking its
// cell how it is over the control socket.

/** Fast timings so tests see restarts, hangs and probation in seconds (all real processes). */
export const FAST = [
  '--backoff-ms', '100', '--backoff-max-ms', '400', '--health-interval-ms', '150', '--health-timeout-ms', '1000', '--hung-ms', '1500',
  '--startup-ms', '20000', '--probation-ms', '30000', '--settle-ms', '800',
];

export interface Watchdog {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

export function startWatchdog(t: TestContext, home: string, args: string[] = FAST, bin = GROVE_BIN): Watchdog {
  const child = spawn(process.execPath, [bin, '--home', home, 'watchdog', '--port', '0', '--host', '127.0.0.1', '--dashboard-port', '0', ...args], {
    env: { ...process.env, ...CLI_ENV, GROVE_SUPERVISED: '', GROVE_RESTARTS: '' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  });
  return {
    child,
    output: () => out,
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Resolves when the watchdog has seen its cell (pid) answer. */
export async function watchdogSawUp(wd: Watchdog, pid: number): Promise<void> {
  await waitFor(() => wd.output().includes(`the cell (pid ${pid}) is up`), `the watchdog to see pid ${pid} up`, 30_000, 50);
}

/** The cell's status, or undefined when none answers (quickly). */
export async function statusOf(home: string): Promise<CellStatus | undefined> {
  try {
    return await callControl<CellStatus>(homePaths(home), 'status', {}, { timeoutMs: 1000 });
  } catch {
    return undefined;
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
