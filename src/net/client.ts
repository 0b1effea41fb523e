import type { KeyObject } from 'node:crypto';
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import { CellAgent } from '../tls/agent.js';
import { connectToCell } from '../tls/connect.js';
import {
  signRequest, toHttpHeaders, newNonce, parseSignedHeaders, verifyResponse, EMPTY_SHA256,
} from './signing.js';
import { GroveError } from '../errors.js';

// The signed peer client (docs/design.md §3). Every response is checked to come from the cell we
// meant to reach, for this request; anything else is PEER_ERROR and its body is ignored.
// Transport: HTTP/1.1 over TLS 1.3 bound to the callee's cell ID (src/tls/), with a
// keep-alive agent per (peer, route). (bench:sync measured Node's fetch at ~0.7x the
// throughput of node:http for 4 MiB uploads on loopback.) Every route scheme is TLS:
// `https://` and the legacy `http://` (upgraded: TLS on the same host and port, never
// plaintext) connect directly; `relay+ws(s)://` routes open a stream through a relay and run
// the same TLS session inside it (docs/protocol.md).

export interface PeerClientDeps {
  selfId: string;
  identity: KeyObject;
  clock: () => number;
  timeoutMs?: number;
  /** Connections kept per peer address (default 8). */
  maxSockets?: number;
  /** Opens a byte stream to `peerId` through the relay of a `relay+ws(s)://` route. */
  dialRelay?: (route: URL, peerId: string, signal: AbortSignal) => Promise<Duplex>;
  /** Connection setup timeout (TCP/relay + TLS handshake), default 15 s. */
  connectTimeoutMs?: number;
}

/** Most (peer, route) agents kept; the least recently created is closed beyond it. */
const MAX_AGENTS = 1024;

/** A received response: status, headers and the (not yet read) body. */
interface Reply {
  status: number;
  headers: { get(name: string): string | null };
  body: IncomingMessage;
  /** Whether the request body has been handed to the connection in full (TLS: encrypted). */
  bodySent(): boolean;
}

export interface CallOptions {
  json?: unknown;
  /** Raw body (octet-stream) and its SHA-256 (required: it is signed before sending). */
  body?: Buffer | Readable;
  bodySha256?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Largest response body accepted when buffering. */
  maxBytes?: number;
}

export interface PeerResponse<T = unknown> {
  status: number;
  data: T;
  latencyMs: number;
  bytesReceived: number;
  bytesSent: number;
  /**
   * Whether the request body had been handed to the connection in full (for TLS: encrypted)
   * by the time the answer was read. A peer may answer early; a caller that reuses the
   * buffer it sent may do so only when this is true.
   */
  bodySent: boolean;
}

export const DEFAULT_MAX_RESPONSE = 8 * 1024 * 1024;

export class PeerClient {
  private readonly agents = new Map<string, CellAgent>();

  constructor(private readonly deps: PeerClientDeps) {}

  /** Closes idle kept-alive connections (a stopping cell calls it). */
  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  /** The keep-alive agent for one route of one peer: its connections are checked for that peer. */
  private agentFor(route: URL, peerId: string): CellAgent {
    const key = `${peerId} ${route.href}`;
    let agent = this.agents.get(key);
    if (agent) return agent;
    const open = async () => {
      const signal = AbortSignal.timeout(this.deps.connectTimeoutMs ?? 15_000);
      if (route.protocol === 'relay+ws:' || route.protocol === 'relay+wss:') {
        if (!this.deps.dialRelay) throw new GroveError('UNREACHABLE', 'relay routes are not supported here');
        return connectToCell({ stream: await this.deps.dialRelay(route, peerId, signal) }, peerId, signal);
      }
      const port = route.port ? Number(route.port) : route.protocol === 'http:' ? 80 : 443;
      return connectToCell({ host: route.hostname.replace(/^\[|\]$/g, ''), port }, peerId, signal);
    };
    agent = new CellAgent(open, { keepAlive: true, maxSockets: this.deps.maxSockets ?? 8, keepAliveMsecs: 30_000 });
    if (this.agents.size >= MAX_AGENTS) {
      const [oldKey, old] = this.agents.entries().next().value as [string, CellAgent];
      old.destroy();
      this.agents.delete(oldKey);
    }
    this.agents.set(key, agent);
    return agent;
  }

  get selfId(): string {
    return this.deps.selfId;
  }

  /** A signed request; returns the verified, buffered response body (JSON-parsed if JSON). */
  async call<T = unknown>(baseUrl: string, peerId: string, method: string, path: string, opts: CallOptions = {}): Promise<PeerResponse<T>> {
    const { res, started, sentBytes, nonce, release } = await this.send(baseUrl, peerId, method, path, opts);
    let h: string;
    let body: Buffer;
    try {
      h = this.verify(res, peerId, method, path, nonce);
      // The deadline covers the body too: a peer that sends headers and then stalls is cut.
      body = await readLimited(res, opts.maxBytes ?? DEFAULT_MAX_RESPONSE);
    } catch (e) {
      res.body.destroy();
      throw e;
    } finally {
      release();
    }
    if (createHash('sha256').update(body).digest('hex') !== h) throw peerError('response body does not match its signature');
    const latencyMs = performance.now() - started;
    const isJson = (res.headers.get('content-type') ?? '').includes('application/json');
    let data: unknown = body;
    if (isJson) {
      try {
        data = body.length ? JSON.parse(body.toString('utf8')) : undefined;
      } catch {
        throw peerError('peer sent invalid JSON');
      }
    }
    if (res.status >= 400) {
      const e = (data ?? {}) as { error?: string; message?: string };
      throw new GroveError('PEER_ERROR', `peer refused: ${res.status} ${typeof e.error === 'string' ? e.error : ''} ${typeof e.message === 'string' ? e.message.slice(0, 200) : ''}`.trim(), { status: res.status, code: e.error });
    }
    return { status: res.status, data: data as T, latencyMs, bytesReceived: body.length, bytesSent: sentBytes, bodySent: res.bodySent() };
  }

  /**
   * A signed request whose successful response body is streamed to `sink` while its hash is
   * checked; resolves only when the whole body matched its signed hash. `sink` gets the body
   * as a Readable and must consume it fully (e.g. ObjectStore.putStream).
   */
  async download<R>(baseUrl: string, peerId: string, path: string, sink: (body: Readable, expectedSha256: string) => Promise<R>, opts: CallOptions = {}): Promise<{ result: R; latencyMs: number }> {
    const { res, started, nonce, release } = await this.send(baseUrl, peerId, 'GET', path, opts);
    try {
      return await this.receive(res, started, nonce, peerId, path, sink);
    } finally {
      release();
    }
  }

  private async receive<R>(res: Reply, started: number, nonce: string, peerId: string, path: string, sink: (body: Readable, expectedSha256: string) => Promise<R>): Promise<{ result: R; latencyMs: number }> {
    let expected: string;
    try {
      expected = this.verify(res, peerId, 'GET', path, nonce);
    } catch (e) {
      res.body.destroy();
      throw e;
    }
    if (res.status >= 400) {
      const body = await readLimited(res, 64 * 1024).catch(() => Buffer.alloc(0));
      if (createHash('sha256').update(body).digest('hex') !== expected) throw peerError('response body does not match its signature');
      let code = '';
      try { code = String(JSON.parse(body.toString()).error ?? ''); } catch { /* not JSON */ }
      throw new GroveError('PEER_ERROR', `peer refused: ${res.status} ${code}`.trim(), { status: res.status, code });
    }
    try {
      const result = await sink(res.body, expected);
      return { result, latencyMs: performance.now() - started };
    } finally {
      if (!res.body.readableEnded) res.body.destroy();
    }
  }

  private async send(baseUrl: string, peerId: string, method: string, path: string, opts: CallOptions) {
    let body: Buffer | Readable | undefined;
    let bodySha256 = EMPTY_SHA256;
    let contentType: string | undefined;
    let sentBytes = 0;
    if (opts.json !== undefined) {
      body = Buffer.from(JSON.stringify(opts.json));
      bodySha256 = createHash('sha256').update(body).digest('hex');
      contentType = 'application/json';
      sentBytes = body.length;
    } else if (opts.body !== undefined) {
      body = opts.body;
      contentType = 'application/octet-stream';
      if (Buffer.isBuffer(body)) {
        // Objects are named by their hash: a caller that knows it saves hashing 4 MiB again.
        // A wrong one only makes the callee refuse the request.
        bodySha256 = opts.bodySha256 ?? createHash('sha256').update(body).digest('hex');
        sentBytes = body.length;
      } else {
        if (!opts.bodySha256) throw new GroveError('INTERNAL', 'streamed body needs its hash');
        bodySha256 = opts.bodySha256;
      }
    }
    const route = parseRoute(baseUrl); // before the deadline: a bad route must not leave a timer behind
    const { signal, release } = deadline(opts.timeoutMs ?? this.deps.timeoutMs ?? 30_000, opts.signal);
    const replayable = body === undefined || Buffer.isBuffer(body);
    for (let attempt = 0; ; attempt++) {
      // Signed afresh on each attempt: a retry carries a new nonce.
      const nonce = newNonce();
      const signed = signRequest(this.deps.identity, { method, path }, {
        from: this.deps.selfId, to: peerId, ts: this.deps.clock(), nonce, bodySha256,
      });
      const headers: Record<string, string | number> = { ...toHttpHeaders(signed) };
      if (contentType) headers['content-type'] = contentType;
      if (body === undefined) headers['content-length'] = 0;
      else if (Buffer.isBuffer(body)) headers['content-length'] = body.length;
      const started = performance.now();
      try {
        const res = await this.exchange(route, peerId, path, method, headers, body, signal);
        return { res, started, sentBytes, nonce, release };
      } catch (e) {
        // Typically a pooled keep-alive connection the peer had already closed (it restarted or
        // timed the connection out). One retry on a new connection: peer requests are safe to
        // repeat (reads; content-addressed puts; a repeated pairing is refused, never doubled).
        if (attempt === 0 && replayable && !signal.aborted && isStaleConnection(e)) continue;
        release();
        if (e instanceof GroveError && (e.code === 'WRONG_IDENTITY' || e.code === 'RELAY_REFUSED')) throw e;
        throw new GroveError('UNREACHABLE', `cannot reach ${baseUrl}: ${describeNetError(e, signal)}`, undefined, { cause: e });
      }
    }
  }

  /** One HTTP exchange: resolves when the response headers have arrived. */
  private exchange(route: URL, peerId: string, path: string, method: string, headers: Record<string, string | number>, body: Buffer | Readable | undefined, signal: AbortSignal): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const agent = this.agentFor(route, peerId);
      const req = httpRequest({ host: route.hostname, path, method, headers: { host: route.host, ...headers }, agent, signal }, (res) => {
        resolve({
          status: res.statusCode ?? 0,
          headers: { get: (name) => { const v = res.headers[name.toLowerCase()]; return typeof v === 'string' ? v : null; } },
          body: res,
          bodySent: () => req.writableFinished,
        });
      });
      req.on('error', reject);
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      }
    });
  }

  private verify(res: Reply, peerId: string, method: string, path: string, requestNonce: string): string {
    let ts: number | undefined;
    try {
      const h = parseSignedHeaders(res.headers);
      ts = h.ts;
      verifyResponse({ method, path, status: res.status, requestNonce }, h, peerId, this.deps.selfId, this.deps.clock());
      return h.bodySha256;
    } catch (e) {
      // A correctly signed but stale answer means the clocks disagree: say by how much, it is fixable.
      if (e instanceof GroveError && e.message.startsWith('timestamp') && ts !== undefined) throw clockSkew(ts - this.deps.clock());
      throw peerError('response is not signed by the expected cell');
    }
  }
}

/**
 * A deadline for one call that also follows the caller's signal. A plain timer rather than
 * `AbortSignal.any([signal, AbortSignal.timeout()])`: on Node 20 the combined signal can be
 * garbage-collected with its timeout, and the call then waits for as long as the peer likes.
 * `release()` clears the timer once the whole response has been read.
 */
function deadline(ms: number, outer?: AbortSignal): { signal: AbortSignal; release: () => void } {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(new DOMException('the peer did not answer in time', 'TimeoutError')), ms);
  const onAbort = () => ctl.abort(outer?.reason);
  if (outer?.aborted) onAbort();
  else outer?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ctl.signal,
    release: () => {
      clearTimeout(timer);
      outer?.removeEventListener('abort', onAbort);
    },
  };
}

/** PEER_ERROR "clock differs by N s" (detail.clock_skew_s: the peer's clock minus ours). */
export function clockSkew(skewMs: number): GroveError {
  const s = Math.round(skewMs / 1000);
  return new GroveError('PEER_ERROR', `clock differs by ${Math.abs(s)} s: the peer's clock is ${s < 0 ? 'behind' : 'ahead of'} ours by more than 5 minutes; run NTP on both machines`, { clock_skew_s: s });
}

const ROUTE_SCHEMES = new Set(['https:', 'http:', 'relay+ws:', 'relay+wss:']);

function parseRoute(baseUrl: string): URL {
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch {
    throw new GroveError('BAD_INPUT', `not a route URL: ${baseUrl.slice(0, 200)}`);
  }
  if (!ROUTE_SCHEMES.has(u.protocol)) throw new GroveError('BAD_INPUT', `unsupported route scheme ${u.protocol}`);
  return u;
}

function peerError(msg: string): GroveError {
  return new GroveError('PEER_ERROR', msg);
}

function isStaleConnection(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

function describeNetError(e: unknown, signal?: AbortSignal): string {
  const err = e as { name?: string; code?: string; message?: string };
  if (signal?.aborted || err?.name === 'TimeoutError' || err?.name === 'AbortError') return 'timed out';
  if (e instanceof GroveError) return e.message;
  return err?.code ?? err?.message ?? 'network error';
}

async function readLimited(res: Reply, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  try {
    for await (const piece of res.body) {
      const buf = piece as Buffer;
      n += buf.length;
      if (n > max) {
        res.body.destroy();
        throw new GroveError('PEER_ERROR', 'response too large');
      }
      parts.push(buf);
    }
  } catch (e) {
    if (e instanceof GroveError) throw e;
    throw new GroveError('UNREACHABLE', `connection lost: ${describeNetError(e)}`);
  }
  return Buffer.concat(parts);
}
