import { mkdtemp, rm } from 'node:fs/promises';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import type { TestContext } from 'node:test';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pino } from 'pino';
import { initHome } from '../../src/home/home.js';
import { homePaths } from '../../src/home/paths.js';
import { createCell, type Cell, type CellOptions } from '../../src/cell.js';
import { createInvite, pairWithCode } from '../../src/peers/pairing.js';
import { signRequest, toHttpHeaders, newNonce, EMPTY_SHA256 } from '../../src/net/signing.js';

// Test harness (STYLE.md): real cells on loopback, each in its own temp home with a cheap
// password hash and its own injectable clock, torn down in reverse order by the test.

export interface TestClock {
  now(): number;
  /** Moves this cell's clock (tests of stale timestamps, expiry, benchmark intervals). */
  advance(ms: number): void;
}

export function testClock(): TestClock {
  let offset = 0;
  return { now: () => Date.now() + offset, advance: (ms) => { offset += ms; } };
}

export interface TestCell {
  name: string;
  root: string;
  clock: TestClock;
  /** The current Cell (replaced by restartCell). */
  cell: Cell;
  id: string;
  /** Peer API base URL (stable across restarts: the port is kept). */
  url: string;
  port: number;
  /** How it was started (restartCell starts it the same way). */
  options: StartCellsOptions;
}

export interface StartCellsOptions {
  /** Names of the cells (default alpha, beta, gamma, …). */
  names?: string[];
  /** Values merged into each config.json before the cell opens it. */
  config?: Record<string, unknown> | ((i: number) => Record<string, unknown>);
  /** Probe loop interval; default 0 (no loop: tests probe explicitly). */
  probeMs?: number;
  /** Sync loop interval; default 0 (no loop: tests run rounds explicitly). */
  syncMs?: number;
  /** Open control sockets (default true). */
  control?: boolean;
  timeouts?: CellOptions['timeouts'];
  /** Serve the web dashboard on 127.0.0.1, a free port (with these options). */
  dashboard?: boolean | CellOptions['dashboard'];
}

const NAMES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta'];

function logger() {
  return pino({ level: process.env.GROVE_TEST_LOG ?? 'silent' });
}

function writeConfig(root: string, extra: Record<string, unknown>): void {
  const path = homePaths(root).config;
  const cfg = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  writeFileSync(path, JSON.stringify({ ...cfg, ...extra }, null, 2));
}

async function openCell(tc: { root: string; clock: TestClock }, opts: StartCellsOptions, port: number): Promise<Cell> {
  const cell = await createCell({
    home: tc.root,
    host: '127.0.0.1',
    port,
    clock: tc.clock.now,
    logger: logger(),
    control: opts.control ?? true,
    intervals: { probeMs: opts.probeMs ?? 0, syncMs: opts.syncMs ?? 0 },
    timeouts: { probeMs: 2_000, benchMs: 10_000, ...opts.timeouts },
    ...(opts.dashboard ? { dashboard: { host: '127.0.0.1', port: 0, ...(typeof opts.dashboard === 'object' ? opts.dashboard : {}) } } : {}),
  });
  await cell.start();
  return cell;
}

/** Creates and starts `n` cells; they are stopped and their homes removed after the test. */
export async function startCells(t: TestContext, n: number, opts: StartCellsOptions = {}): Promise<TestCell[]> {
  const cells: TestCell[] = [];
  const base = await mkdtemp(join(tmpdir(), 'grove-test-'));
  t.after(async () => {
    for (const c of [...cells].reverse()) await c.cell.stop();
    await rm(base, { recursive: true, force: true });
  });
  for (let i = 0; i < n; i++) {
    const name = opts.names?.[i] ?? NAMES[i] ?? `cell${i}`;
    const root = join(base, name);
    initHome(root, { name, password: 'test-password', passwordIterations: 1 });
    const extra = typeof opts.config === 'function' ? opts.config(i) : opts.config;
    if (extra) writeConfig(root, extra);
    const clock = testClock();
    const cell = await openCell({ root, clock }, opts, 0);
    const tc: TestCell = { name, root, clock, cell, id: cell.id, url: cell.apiUrl, port: cell.port, options: opts };
    cells.push(tc);
  }
  return cells;
}

export async function stopCell(tc: TestCell): Promise<void> {
  await tc.cell.stop();
}

/** Stops the cell (if running) and starts it again on the same home and port. */
export async function restartCell(tc: TestCell): Promise<Cell> {
  await tc.cell.stop();
  tc.cell = await openCell(tc, tc.options, tc.port);
  return tc.cell;
}

/** Pairs two cells through the real invite and pair functions: a invites, b joins. */
export async function pairCells(a: TestCell, b: TestCell): Promise<void> {
  const { code } = createInvite(a.cell);
  await pairWithCode(b.cell, code);
}

export { waitFor } from './ingest.js';

export interface RawSignedOptions {
  body?: Buffer;
  contentType?: string;
  /** Override what is signed (tests of mismatches and stale timestamps). */
  ts?: number;
  nonce?: string;
  bodySha256?: string;
  /** Path signed, if different from the one requested (a tampered request). */
  signedPath?: string;
  /** Extra or replaced headers after signing. */
  headers?: Record<string, string>;
  /** Send the body streamed (chunked, no Content-Length). */
  chunked?: boolean;
}

/**
 * A hand-made signed request from `from` to `to` (no response verification): for tests of
 * what the server rejects. Returns the fetch Response and the headers sent (to replay them).
 */
export async function rawSigned(from: TestCell, to: TestCell, method: string, path: string, o: RawSignedOptions = {}): Promise<{ res: Response; headers: Record<string, string> }> {
  const bodySha256 = o.bodySha256 ?? (o.body ? createHash('sha256').update(o.body).digest('hex') : EMPTY_SHA256);
  const signed = signRequest(from.cell.home.keys.identity.privateKey, { method, path: o.signedPath ?? path }, {
    from: from.id, to: to.id, ts: o.ts ?? from.clock.now(), nonce: o.nonce ?? newNonce(), bodySha256,
  });
  const headers: Record<string, string> = { ...toHttpHeaders(signed), ...(o.body ? { 'content-type': o.contentType ?? 'application/octet-stream' } : {}), ...o.headers };
  const body = o.body && o.chunked ? chunks(o.body) : o.body;
  const res = await tlsFetch(new URL(path, to.url), { method, headers, body });
  return { res, headers };
}

async function* chunks(b: Buffer): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += 64 * 1024) yield b.subarray(i, i + 64 * 1024);
}

/** Replays exactly the same request headers (and body). */
export function replay(to: TestCell, method: string, path: string, headers: Record<string, string>, body?: Buffer): Promise<Response> {
  return tlsFetch(new URL(path, to.url), { method, headers, body });
}

/**
 * fetch() for a cell's TLS peer API without checking its certificate (the cell's certificate
 * is self-signed by its identity; tests of raw requests do not need the identity check).
 */
export function tlsFetch(url: string | URL, init: { method?: string; headers?: Record<string, string>; body?: Buffer | AsyncIterable<Buffer>; signal?: AbortSignal } = {}): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const req = httpsRequest(url, { method: init.method ?? 'GET', headers: init.headers, agent: false, rejectUnauthorized: false, minVersion: 'TLSv1.3', signal: init.signal }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') headers.set(k, v);
        const body = Buffer.concat(parts);
        resolve(new Response(body.length ? body : null, { status: res.statusCode ?? 0, headers }));
      });
    });
    req.on('error', reject);
    if (init.body === undefined) req.end();
    else if (Buffer.isBuffer(init.body)) req.end(init.body);
    else Readable.from(init.body).on('error', (e) => req.destroy(e)).pipe(req);
  });
}
