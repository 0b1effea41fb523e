import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';
import { GROVE_BIN, runGrove } from './ingest.js';

// Driving the real `grove` executable: JSON commands and daemons as child processes.

export const CLI_ENV = { GROVE_DASHBOARD_PASSWORD: 'cli-test-password', GROVE_HOME: '', GROVE_PASSPHRASE: 'a long test passphrase' };

/** Runs `grove --home HOME --json ARGS…`, asserts exit 0 and parses stdout. */
export async function groveJson<T>(home: string, ...args: string[]): Promise<T> {
  const r = await runGrove(home, ['--json', ...args], { env: CLI_ENV });
  assert.equal(r.code, 0, `grove ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export interface Daemon {
  child: ChildProcess;
  id: string;
  api_url: string;
  /** SIGTERM, and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts `grove start --json` on loopback (port 0); killed after the test if still running. */
export async function startDaemon(t: TestContext, home: string): Promise<Daemon> {
  const child = spawn(process.execPath, [GROVE_BIN, '--home', home, '--json', 'start', '--port', '0', '--host', '127.0.0.1', '--dashboard-port', '0'], {
    env: { ...process.env, ...CLI_ENV }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  const lines = createInterface({ input: child.stdout! });
  const first = await Promise.race([
    once(lines, 'line').then(([l]) => l as string),
    once(child, 'exit').then(([code]) => { throw new Error(`grove start exited with ${code}: ${stderr}`); }),
  ]);
  const info = JSON.parse(first) as { id: string; api_url: string };
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    return code as number | null;
  };
  return { child, ...info, stop };
}
