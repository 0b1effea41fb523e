import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { chmodSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import type { Logger } from 'pino';
import { GroveError, describeError, isGroveError } from '../errors.js';

// The local control interface (docs/design.md §5): the CLI talks to a running cell over HTTP on the
// Unix socket HOME/control.sock (mode 600: only the owner of the home can connect). The
// socket doubles as the single-instance lock: a live socket means a cell runs for this home,
// a dead one is left by a crash and replaced.
//
// Wire: POST /v1/{command} with a JSON object of parameters →
//   200 {"ok":true,"result":…} or 4xx/5xx {"ok":false,"error":CODE,"message":…}

export type ControlHandler = (params: Record<string, unknown>, ctx: { signal: AbortSignal }) => unknown;

const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const MAX_BODY = 1024 * 1024;
/** sun_path holds 108 bytes on Linux (104 on BSDs), including the terminating NUL. */
const MAX_SOCKET_PATH = 103;

/** The commands a running cell answers on its control socket. Later features add theirs. */
export class ControlRegistry {
  private readonly handlers = new Map<string, ControlHandler>();

  register(name: string, handler: ControlHandler): void {
    if (!NAME.test(name)) throw new GroveError('INTERNAL', `bad control command name: ${name}`);
    if (this.handlers.has(name)) throw new GroveError('INTERNAL', `control command ${name} registered twice`);
    this.handlers.set(name, handler);
  }

  has(name: string): boolean {
    return this.handlers.has(name);
  }

  names(): string[] {
    return [...this.handlers.keys()].sort();
  }

  async handle(name: string, params: Record<string, unknown>, signal: AbortSignal): Promise<unknown> {
    const h = this.handlers.get(name);
    if (!h) throw new GroveError('NOT_FOUND', `the running cell does not know the command ${name} (restart it after upgrading grove?)`);
    return await h(params, { signal });
  }
}

export interface ControlServer {
  readonly path: string;
  close(): Promise<void>;
}

export function checkSocketPath(path: string): void {
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new GroveError('BAD_INPUT', `the grove home path is too long for its control socket (${path}); use a shorter --home`);
  }
}

/** Whether something accepts connections on the socket (a live cell). */
export function socketAlive(path: string, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ path });
    const done = (alive: boolean) => {
      s.destroy();
      resolve(alive);
    };
    s.setTimeout(timeoutMs, () => done(true)); // accepted but slow: still someone's socket
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

function listenOn(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      server.off('listening', onListening);
      reject(e);
    };
    const onListening = () => {
      server.off('error', onError);
      resolve();
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(path);
  });
}

function readPid(pidPath: string | undefined): string {
  if (!pidPath) return '';
  try {
    const pid = readFileSync(pidPath, 'utf8').trim();
    return /^\d+$/.test(pid) ? ` (pid ${pid})` : '';
  } catch {
    return '';
  }
}

/**
 * Binds the control socket. Fails with CONFLICT when a live cell holds it; removes and
 * replaces a stale socket left by a crashed run.
 */
export async function listenControl(
  path: string,
  registry: ControlRegistry,
  opts: { log: Logger; home: string; pidPath?: string },
): Promise<ControlServer> {
  checkSocketPath(path);
  const inflight = new Set<AbortController>();
  const server = createServer((req, res) => void serve(req, res, registry, opts.log, inflight));
  try {
    await listenOn(server, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    if (await socketAlive(path)) {
      throw new GroveError('CONFLICT', `a cell is already running for ${opts.home}${readPid(opts.pidPath)}`);
    }
    opts.log.warn({ path }, 'replacing a stale control socket (the previous run did not stop cleanly)');
    try {
      unlinkSync(path);
    } catch (u) {
      if ((u as NodeJS.ErrnoException).code !== 'ENOENT') throw u;
    }
    try {
      await listenOn(server, path);
    } catch (e2) {
      // Another start won the race for the socket we just cleared.
      if ((e2 as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new GroveError('CONFLICT', `a cell is already running for ${opts.home}`);
      throw e2;
    }
  }
  chmodSync(path, 0o600);
  const ino = lstatSync(path).ino;
  return {
    path,
    close: async () => {
      for (const c of inflight) c.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      try {
        // Only remove the socket if it is still ours (not one a newer cell bound since).
        if (lstatSync(path).ino === ino) unlinkSync(path);
      } catch {
        /* already gone */
      }
    },
  };
}

async function serve(req: IncomingMessage, res: ServerResponse, registry: ControlRegistry, log: Logger, inflight: Set<AbortController>): Promise<void> {
  const abort = new AbortController();
  inflight.add(abort);
  res.once('close', () => {
    if (!res.writableFinished) abort.abort();
    inflight.delete(abort);
  });
  const send = (status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };
  try {
    const m = /^\/v1\/([a-z][a-z0-9-]{0,62})$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !m) throw new GroveError('NOT_FOUND', 'no such control endpoint');
    const body = await readBody(req);
    let params: unknown = {};
    if (body.length) {
      try {
        params = JSON.parse(body.toString('utf8'));
      } catch {
        throw new GroveError('BAD_INPUT', 'control request is not valid JSON');
      }
    }
    if (!params || typeof params !== 'object' || Array.isArray(params)) throw new GroveError('BAD_INPUT', 'control parameters must be a JSON object');
    const result = await registry.handle(m[1]!, params as Record<string, unknown>, abort.signal);
    send(200, { ok: true, result: result ?? null });
  } catch (e) {
    if (!isGroveError(e) || e.status >= 500) log.error({ err: e }, `control request failed: ${describeError(e)}`);
    const g = isGroveError(e) ? e : undefined;
    if (!res.headersSent) send(g?.status ?? 500, { ok: false, error: g?.code ?? 'INTERNAL', message: describeError(e), ...(g?.detail ? { detail: g.detail } : {}) });
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const piece of req) {
    n += (piece as Buffer).length;
    if (n > MAX_BODY) throw new GroveError('TOO_LARGE', 'control request too large');
    parts.push(piece as Buffer);
  }
  return Buffer.concat(parts);
}
