import Fastify, { LogController, type FastifyInstance, type FastifyRequest, type FastifyError, type FastifyBaseLogger } from 'fastify';
import type { KeyObject } from 'node:crypto';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Server as TlsServer } from 'node:tls';
import type { TlsIdentity } from '../tls/certificate.js';
import { TLS_MIN_VERSION, TLS_CIPHERSUITES } from '../tls/verify.js';
import {
  parseSignedHeaders, verifyRequest, signResponse, toHttpHeaders, newNonce, EMPTY_SHA256, H, type SignedHeaders,
} from './signing.js';
import { isCellId } from '../crypto/encoding.js';
import { GroveError, forbidden, unauthenticated, badInput, tooLarge } from '../errors.js';
import { capConnections, connectionCaps, openFileLimit } from '../guard/connections.js';
import { isDiskFull } from '../guard/disk.js';

// The peer API server (docs/design.md §3). Every route is signed-and-known-peer by default; a route
// opts out with `config: { auth: 'signed' }` (any cell that proves its key: pairing) or
// `config: { auth: 'none' }` (GET /api/identity). Responses are signed in onSend.

export type AuthMode = 'peer' | 'signed' | 'none';

declare module 'fastify' {
  interface FastifyRequest {
    /** Verified signed headers of the caller (absent on auth 'none' routes). */
    signed?: SignedHeaders;
    /** Verified caller cell ID. */
    peer?: string;
    /** Raw bytes of a buffered (JSON) body, already checked against the signed body hash. */
    rawBody?: Buffer;
  }
  interface FastifyContextConfig {
    auth?: AuthMode;
  }
}

export interface NonceStore {
  /** Records (cell, nonce); returns false if it was already seen (a replay). */
  remember(cellId: string, nonce: string, ts: number): boolean;
}

export interface PeerServerDeps {
  selfId: string;
  identity: KeyObject;
  clock: () => number;
  isKnownPeer: (id: string) => boolean;
  nonces: NonceStore;
  logger?: Logger;
  /** Limit for buffered (JSON) bodies. Streamed routes enforce their own limits. */
  jsonBodyLimit?: number;
  /** Timeouts and connection caps against slow or greedy clients (defaults: EDGE_DEFAULTS). */
  edge?: Partial<EdgeLimits>;
  /** Admits a request to a 'signed' route (a caller not yet paired: pairing) from an address, before any work. */
  admitStranger?: (address: string) => boolean;
  /**
   * The cell's TLS certificate and key (src/tls/), loaded before the server listens. The
   * peer API speaks TLS 1.3 only; there is no plaintext listener.
   */
  tls: () => Promise<TlsIdentity>;
}

export interface EdgeLimits {
  /** The whole request head must arrive within this. */
  headersTimeoutMs: number;
  /** The whole request, body included, must arrive within this (a slow body is cut). */
  requestTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

export const EDGE_DEFAULTS: EdgeLimits = { headersTimeoutMs: 10_000, requestTimeoutMs: 120_000, maxConnections: 1024, maxConnectionsPerAddress: 64 };

export const DEFAULT_JSON_BODY_LIMIT = 1024 * 1024;

export function createPeerServer(deps: PeerServerDeps): FastifyInstance {
  const edge = { ...EDGE_DEFAULTS, ...deps.edge };
  const app = Fastify({
    requestTimeout: edge.requestTimeoutMs,
    connectionTimeout: edge.requestTimeoutMs, // a socket silent this long is closed
    keepAliveTimeout: Math.min(72_000, edge.requestTimeoutMs),
    loggerInstance: deps.logger as FastifyBaseLogger | undefined,
    // Per-request lines would log every sync call; failures are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: deps.jsonBodyLimit ?? DEFAULT_JSON_BODY_LIMIT,
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    // The certificate is made asynchronously (webcrypto): set on the server before listening.
    // Slow strangers (docs/protocol.md "Bounds and defences"): a head or a body that trickles
    // in is cut; Node checks the open requests against these deadlines at this interval.
    https: {
      minVersion: TLS_MIN_VERSION,
      ciphers: TLS_CIPHERSUITES,
      handshakeTimeout: Math.min(edge.headersTimeoutMs, 10_000), // a handshake that never ends is cut too
      headersTimeout: Math.min(edge.headersTimeoutMs, edge.requestTimeoutMs), // Node requires ≤ requestTimeout
      requestTimeout: edge.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(30_000, Math.max(250, Math.floor(edge.headersTimeoutMs / 2))),
    },
  });
  app.addHook('onReady', async () => {
    const id = await deps.tls();
    (app.server as unknown as TlsServer).setSecureContext({ ...id, minVersion: TLS_MIN_VERSION, ciphers: TLS_CIPHERSUITES });
  });

  app.removeAllContentTypeParsers();
  // JSON: buffered (bounded by bodyLimit), checked against the signed hash before parsing.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const buf = body as Buffer;
    if (req.signed && createHash('sha256').update(buf).digest('hex') !== req.signed.bodySha256) {
      done(unauthenticated('body does not match its signed hash'), undefined);
      return;
    }
    req.rawBody = buf;
    if (buf.length === 0) {
      done(null, undefined);
      return;
    }
    try {
      done(null, JSON.parse(buf.toString('utf8')));
    } catch {
      done(badInput('body is not valid JSON'), undefined);
    }
  });
  // Binary: passed through as a stream; the route checks size and hash as bytes arrive.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  capConnections(app.server, connectionCaps({ max_connections: edge.maxConnections, max_connections_per_address: edge.maxConnectionsPerAddress }, openFileLimit()));

  app.addHook('onRequest', async (req) => {
    const auth: AuthMode = req.routeOptions.config?.auth ?? 'peer';
    // No route reads a body on GET or on an open route but pairing: refuse one at once,
    // unread (the error handler closes the connection), rather than read 1 GiB for nothing.
    if ((req.method === 'GET' || req.method === 'HEAD' || auth === 'none') && hasBody(req)) throw tooLarge('this request takes no body');
    if (auth === 'signed' && deps.admitStranger && !deps.admitStranger(req.ip)) {
      throw new GroveError('RATE_LIMITED', 'too many attempts from your address; retry later');
    }
    if (auth === 'none') return;
    const h = parseSignedHeaders(req.headers);
    verifyRequest({ method: req.method, path: req.url }, h, deps.selfId, deps.clock());
    if (auth === 'peer' && !deps.isKnownPeer(h.from)) throw forbidden('unknown cell');
    if (!deps.nonces.remember(h.from, h.nonce, h.ts)) throw unauthenticated('replayed request');
    if (!hasBody(req) && h.bodySha256 !== EMPTY_SHA256) throw unauthenticated('body does not match its signed hash');
    req.signed = h;
    req.peer = h.from;
  });

  app.addHook('onSend', async (req, reply, payload) => {
    // Whom we answer: the verified caller, else a well-formed claimed caller (identity requests).
    const claimed = req.headers[H.from];
    const to = req.peer ?? (typeof claimed === 'string' && isCellId(claimed) ? claimed : undefined);
    if (!to) return payload;
    const reqNonce = req.signed?.nonce ?? (typeof req.headers[H.nonce] === 'string' ? (req.headers[H.nonce] as string) : '');
    let bodySha256: string;
    if (payload === null || payload === undefined) bodySha256 = EMPTY_SHA256;
    else if (typeof payload === 'string' || Buffer.isBuffer(payload)) bodySha256 = createHash('sha256').update(payload).digest('hex');
    else {
      // A stream: the route must have declared the body hash (objects are named by it).
      const declared = reply.getHeader(H.body);
      if (typeof declared !== 'string') throw new GroveError('INTERNAL', 'streamed response without a declared hash');
      bodySha256 = declared;
    }
    const signed = signResponse(deps.identity, {
      method: req.method, path: req.url, status: reply.statusCode, requestNonce: reqNonce,
    }, { from: deps.selfId, to, ts: deps.clock(), nonce: newNonce(), bodySha256 });
    reply.headers(toHttpHeaders(signed));
    return payload;
  });

  app.setErrorHandler((err: FastifyError | GroveError, req, reply) => {
    // Refused before its body was read (413, 507, bad hash): the rest of the body is still on
    // the wire, so this connection cannot carry another request. Tell the client not to reuse it.
    if (!req.raw.complete) reply.header('connection', 'close');
    if (err instanceof GroveError) {
      if (err.status >= 500) req.log.error({ err }, 'request failed');
      return reply.code(err.status).send({ error: err.code, message: err.status >= 500 && err.code === 'INTERNAL' ? 'internal error' : err.message });
    }
    if (isDiskFull(err)) {
      // Any write that met a full disk (a route's, a hook's): "full", never "down" (500).
      return reply.code(507).send({ error: 'DISK_FULL', message: 'this cell has no room left' });
    }
    const status = err.statusCode ?? 500;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || status === 413) {
      return reply.code(413).send({ error: 'TOO_LARGE', message: 'body too large' });
    }
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ error: 'BAD_INPUT', message: 'bad request' });
    }
    req.log.error({ err }, 'request failed');
    return reply.code(500).send({ error: 'INTERNAL', message: 'internal error' });
  });

  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'NOT_FOUND', message: 'no such endpoint' }));

  return app;
}

function hasBody(req: FastifyRequest): boolean {
  const len = req.headers['content-length'];
  if (len !== undefined && len !== '0') return true;
  return req.headers['transfer-encoding'] !== undefined;
}

/** Rejects a declared Content-Length above `max` before reading anything (413). */
export function checkContentLength(req: FastifyRequest, max: number): void {
  const len = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(len) && len > max) throw new GroveError('TOO_LARGE', 'body too large');
}

/** The streamed body of an application/octet-stream request (see the parser above). */
export function bodyStream(req: FastifyRequest): Readable {
  const b = req.body as Readable | undefined;
  if (!b || typeof (b as Readable).pipe !== 'function') throw badInput('expected an application/octet-stream body');
  return b;
}
