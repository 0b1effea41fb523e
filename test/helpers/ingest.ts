import { mkdtemp, rm, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { initHome, openHome, type Home } from '../../src/home/home.js';
import { SealPool } from '../../src/ingest/pool.js';
import { ingestBuffers, type IngestContext } from '../../src/ingest/add.js';

// Helpers for the storage-core tests : temp dirs and homes torn down by the test,
// deterministic content, the chunks directory as a set, and the grove executable.

/** A temp directory removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'grove-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** An initialized, opened home (cheap dashboard password hash), closed and removed after the test. */
export async function tempHome(t: TestContext): Promise<{ root: string; home: Home }> {
  const root = join(await tempDir(t, 'grove-home-'), 'home');
  initHome(root, { password: 'test-password', passwordIterations: 1000 });
  const home = openHome(root);
  t.after(() => home.close());
  return { root, home };
}

/**
 * An ingest context over a fresh home (crypto pool, buffers, a clock that advances 1 s per
 * reading) and a scratch directory, all removed after the test.
 */
export async function ingestSetup(t: TestContext): Promise<{ home: Home; dir: string; pool: SealPool; ctx: IngestContext }> {
  const { home } = await tempHome(t);
  const dir = await tempDir(t);
  const pool = new SealPool();
  t.after(() => pool.close());
  let clock = 1_700_000_000_000;
  const ctx: IngestContext = { home, pool, now: () => (clock += 1000), buffers: ingestBuffers(pool, 3, 2) };
  return { home, dir, pool, ctx };
}

/** Deterministic bytes: SHA-256(seed ‖ uint64be(i)) for i = 0, 1, …, truncated to `size`. */
export function streamBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  const counter = Buffer.alloc(8);
  for (let i = 0, off = 0; off < size; i++, off += 32) {
    counter.writeBigUInt64BE(BigInt(i));
    createHash('sha256').update(seed).update(counter).digest().copy(out, off);
  }
  return out;
}

/** Every object file name under chunks/ (not temp files). */
export async function objectFiles(chunksDir: string): Promise<string[]> {
  const out: string[] = [];
  let shards: string[];
  try {
    shards = await readdir(chunksDir);
  } catch {
    return out;
  }
  for (const s of shards) {
    for (const name of await readdir(join(chunksDir, s)).catch(() => [] as string[])) {
      if (/^[0-9a-f]{64}$/.test(name)) out.push(name);
    }
  }
  return out.sort();
}

/** Objects whose bytes do not hash to their name (torn or corrupt). */
export async function tornObjects(chunksDir: string): Promise<string[]> {
  const bad: string[] = [];
  for (const h of await objectFiles(chunksDir)) {
    const data = await readFile(join(chunksDir, h.slice(0, 2), h)).catch(() => undefined);
    if (!data || createHash('sha256').update(data).digest('hex') !== h) bad.push(h);
  }
  return bad;
}

export const GROVE_BIN = fileURLToPath(new URL('../../../bin/grove', import.meta.url));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `grove --home ROOT ARGS…` to completion. */
export function runGrove(root: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [GROVE_BIN, '--home', root, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, GROVE_DEBUG: '', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Polls `cond` until it holds (returns its value) or the deadline passes (no fixed sleeps). */
export async function waitFor<T>(cond: () => T | Promise<T>, what: string, timeoutMs = 10_000, everyMs = 20): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
