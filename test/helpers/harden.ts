import { createHash } from 'node:crypto';
import type { IncomingMessage, ClientRequest } from 'node:http';
import { request } from 'node:https';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import { initHome } from '../../src/home/home.js';
import { homePaths } from '../../src/home/paths.js';
import { createCell } from '../../src/cell.js';
import { signRequest, toHttpHeaders, newNonce } from '../../src/net/signing.js';
import { testClock, type TestCell, type StartCellsOptions } from './cells.js';
import { readFileSync, writeFileSync } from 'node:fs';

// Helpers of the hardening tests: a cell in a given directory (a small tmpfs), uploads held
// half-sent, temp files left in chunks/.

export const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Inits and starts a cell whose home is `root` (e.g. on a small tmpfs); stopped after the test. */
export async function startCellAt(t: TestContext, root: string, name: string, config: Record<string, unknown> = {}): Promise<TestCell> {
  initHome(root, { name, password: 'test-password', passwordIterations: 1 });
  const path = homePaths(root).config;
  writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), ...config }, null, 2));
  const clock = testClock();
  const options: StartCellsOptions = {};
  const cell = await createCell({
    home: root, host: '127.0.0.1', port: 0, clock: clock.now, logger: pino({ level: process.env.GROVE_TEST_LOG ?? 'silent' }),
    control: true, intervals: { probeMs: 0, syncMs: 0 }, timeouts: { probeMs: 2_000, benchMs: 10_000 },
  });
  await cell.start();
  const tc: TestCell = { name, root, clock, cell, id: cell.id, url: cell.apiUrl, port: cell.port, options };
  t.after(() => tc.cell.stop());
  return tc;
}

/** A signed PUT of `data` whose headers and first half are sent now, the rest on finish(). */
export function halfSentPut(from: TestCell, to: TestCell, data: Buffer): { res: Promise<{ status: number; body: string }>; finish: () => void } {
  const hash = sha(data);
  const path = `/api/objects/${hash}?kind=chunk`;
  const signed = signRequest(from.cell.home.keys.identity.privateKey, { method: 'PUT', path }, {
    from: from.id, to: to.id, ts: from.clock.now(), nonce: newNonce(), bodySha256: hash,
  });
  const u = new URL(to.url);
  let req!: ClientRequest;
  const res = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req = request({
      host: u.hostname, port: u.port, method: 'PUT', path, rejectUnauthorized: false, minVersion: 'TLSv1.3',
      headers: { ...toHttpHeaders(signed), 'content-type': 'application/octet-stream', 'content-length': data.length },
    }, (r: IncomingMessage) => {
      let body = '';
      r.on('data', (d: Buffer) => { body += d.toString(); });
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
  req.write(data.subarray(0, data.length >> 1));
  return { res, finish: () => req.end(data.subarray(data.length >> 1)) };
}

/** Names of the temp files under chunks/. */
export async function tempFiles(chunksDir: string): Promise<string[]> {
  const out: string[] = [];
  for (const s of await readdir(chunksDir).catch(() => [] as string[])) {
    for (const n of await readdir(join(chunksDir, s)).catch(() => [] as string[])) if (n.startsWith('.tmp-')) out.push(join(s, n));
  }
  return out;
}
