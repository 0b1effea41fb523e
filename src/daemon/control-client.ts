import { request } from 'node:http';
import { existsSync } from 'node:fs';
import type { HomePaths } from '../home/paths.js';
import { ERROR_CODES, GroveError, type ErrorCode } from '../errors.js';
import { checkSocketPath } from './control.js';

// The CLI side of the control socket (see control.ts for the wire format).

export function notRunning(home: string): GroveError {
  return new GroveError('NOT_RUNNING', `no cell running for ${home} (start one with \`grove start\`)`);
}

/** Calls a command on the cell running for this home. NOT_RUNNING when there is none. */
export function callControl<T = unknown>(
  paths: HomePaths,
  name: string,
  params: Record<string, unknown> = {},
  opts: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<T> {
  checkSocketPath(paths.control);
  if (!existsSync(paths.control)) return Promise.reject(notRunning(paths.root));
  const body = JSON.stringify(params);
  return new Promise<T>((resolve, reject) => {
    const req = request({
      socketPath: paths.control,
      method: 'POST',
      path: `/v1/${name}`,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      timeout: opts.timeoutMs ?? 10 * 60_000,
      signal: opts.signal,
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('error', reject);
      res.on('end', () => {
        let v: { ok?: boolean; result?: unknown; error?: string; message?: string; detail?: Record<string, unknown> };
        try {
          v = JSON.parse(Buffer.concat(parts).toString('utf8'));
        } catch {
          reject(new GroveError('INTERNAL', 'the running cell sent an invalid control answer'));
          return;
        }
        if (v.ok) {
          resolve(v.result as T);
          return;
        }
        const code = (typeof v.error === 'string' && v.error in ERROR_CODES ? v.error : 'INTERNAL') as ErrorCode;
        reject(new GroveError(code, typeof v.message === 'string' ? v.message : `control command ${name} failed`, v.detail));
      });
    });
    req.on('timeout', () => req.destroy(new GroveError('UNREACHABLE', 'the running cell did not answer in time')));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') reject(notRunning(paths.root));
      else reject(e);
    });
    req.end(body);
  });
}

/** Runs `fn` on the daemon when one runs for this home, else `offline()` in this process. */
export async function viaDaemonOr<T>(paths: HomePaths, name: string, params: Record<string, unknown>, offline: () => Promise<T>): Promise<T> {
  try {
    return await callControl<T>(paths, name, params);
  } catch (e) {
    if (e instanceof GroveError && e.code === 'NOT_RUNNING') return offline();
    throw e;
  }
}
