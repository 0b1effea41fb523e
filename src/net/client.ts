import type { KeyObject } from 'node:crypto';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  signRequest, toHttpHeaders, newNonce, parseSignedHeaders, verifyResponse, EMPTY_SHA256,
} from './signing.js';
import { GroveError } from '../errors.js';

// The signed peer client (DESIGN §3). Every response is checked to come from the cell we
// meant to reach, for this request; anything else is PEER_ERROR and its body is ignored.

export interface PeerClientDeps {
  selfId: string;
  identity: KeyObject;
  clock: () => number;
  timeoutMs?: number;
  fetch?: typeof fetch;
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
}

export const DEFAULT_MAX_RESPONSE = 8 * 1024 * 1024;

export class PeerClient {
  constructor(private readonly deps: PeerClientDeps) {}

  get selfId(): string {
    return this.deps.selfId;
  }

  /** A signed request; returns the verified, buffered response body (JSON-parsed if JSON). */
  async call<T = unknown>(baseUrl: string, peerId: string, method: string, path: string, opts: CallOptions = {}): Promise<PeerResponse<T>> {
    const { res, started, sentBytes, nonce } = await this.send(baseUrl, peerId, method, path, opts);
    const body = await readLimited(res, opts.maxBytes ?? DEFAULT_MAX_RESPONSE);
    const h = this.verify(res, peerId, method, path, nonce);
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
    return { status: res.status, data: data as T, latencyMs, bytesReceived: body.length, bytesSent: sentBytes };
  }

  /**
   * A signed request whose successful response body is streamed to `sink` while its hash is
   * checked; resolves only when the whole body matched its signed hash. `sink` gets the body
   * as a Readable and must consume it fully (e.g. ObjectStore.putStream).
   */
  async download<R>(baseUrl: string, peerId: string, path: string, sink: (body: Readable, expectedSha256: string) => Promise<R>, opts: CallOptions = {}): Promise<{ result: R; latencyMs: number }> {
    const { res, started, nonce } = await this.send(baseUrl, peerId, 'GET', path, opts);
    const expected = this.verify(res, peerId, 'GET', path, nonce);
    if (res.status >= 400) {
      const body = await readLimited(res, 64 * 1024).catch(() => Buffer.alloc(0));
      if (createHash('sha256').update(body).digest('hex') !== expected) throw peerError('response body does not match its signature');
      let code = '';
      try { code = String(JSON.parse(body.toString()).error ?? ''); } catch { /* not JSON */ }
      throw new GroveError('PEER_ERROR', `peer refused: ${res.status} ${code}`.trim(), { status: res.status, code });
    }
    if (!res.body) throw peerError('empty response');
    const stream = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
    const result = await sink(stream, expected);
    return { result, latencyMs: performance.now() - started };
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
    const timeout = AbortSignal.timeout(opts.timeoutMs ?? this.deps.timeoutMs ?? 30_000);
    const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
    const url = new URL(path, baseUrl).toString();
    const replayable = body === undefined || Buffer.isBuffer(body);
    for (let attempt = 0; ; attempt++) {
      // Signed afresh on each attempt: a retry carries a new nonce.
      const nonce = newNonce();
      const signed = signRequest(this.deps.identity, { method, path }, {
        from: this.deps.selfId, to: peerId, ts: this.deps.clock(), nonce, bodySha256,
      });
      const headers: Record<string, string> = { ...toHttpHeaders(signed) };
      if (contentType) headers['content-type'] = contentType;
      const started = performance.now();
      try {
        const res = await (this.deps.fetch ?? fetch)(url, {
          method,
          headers,
          body: body as unknown as RequestInit['body'],
          signal,
          redirect: 'error',
          ...(body && !Buffer.isBuffer(body) ? { duplex: 'half' } : {}),
        } as RequestInit);
        return { res, started, sentBytes, nonce };
      } catch (e) {
        // Typically a pooled keep-alive connection the peer had already closed (it restarted or
        // timed the connection out). One retry on a new connection: peer requests are safe to
        // repeat (reads; content-addressed puts; a repeated pairing is refused, never doubled).
        if (attempt === 0 && replayable && !signal.aborted && isStaleConnection(e)) continue;
        throw new GroveError('UNREACHABLE', `cannot reach ${baseUrl}: ${describeFetchError(e)}`, undefined, { cause: e });
      }
    }
  }

  private verify(res: Response, peerId: string, method: string, path: string, requestNonce: string): string {
    try {
      const h = parseSignedHeaders(res.headers);
      verifyResponse({ method, path, status: res.status, requestNonce }, h, peerId, this.deps.selfId, this.deps.clock());
      return h.bodySha256;
    } catch (e) {
      // A correctly signed but stale answer means the clocks disagree: say so, it is fixable.
      if (e instanceof GroveError && e.message.startsWith('timestamp')) throw peerError("the peer's clock differs from ours by more than 5 minutes");
      throw peerError('response is not signed by the expected cell');
    }
  }
}

function peerError(msg: string): GroveError {
  return new GroveError('PEER_ERROR', msg);
}

function isStaleConnection(e: unknown): boolean {
  const code = (e as { cause?: { code?: string } })?.cause?.code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}

function describeFetchError(e: unknown): string {
  const err = e as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return 'timed out';
  return err?.cause?.code ?? err?.cause?.message ?? err?.message ?? 'network error';
}

async function readLimited(res: Response, max: number): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  let n = 0;
  try {
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      n += piece.length;
      if (n > max) throw new GroveError('PEER_ERROR', 'response too large');
      parts.push(Buffer.from(piece));
    }
  } catch (e) {
    if (e instanceof GroveError) throw e;
    throw new GroveError('UNREACHABLE', `connection lost: ${describeFetchError(e)}`);
  }
  return Buffer.concat(parts);
}
