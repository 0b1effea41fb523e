import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { RelayLog } from './log.js';
import { DEFAULT_LIMITS, TokenBucket, Counter, GcPacer, connectionCap, parseFdLimit, type RelayLimits, type Collection } from './limits.js';
import { socketOf } from './stream.js';
import { CLOSE, PATHS, parseHello, verifyHello, MAX_CONTROL_MESSAGE, type CloseName, type RelayMessage } from './protocol.js';

// `grove relay` (docs/protocol.md "Relay"): joins a caller's stream to a listening cell's and
// pipes bytes. It reads nothing it forwards (the cells run TLS end to end inside the stream)
// and trusts no one: every input is bounded in size, count, rate and time.

/** Bytes forwarded between young-generation collections, and between full ones (GcPacer). */
const GC_MINOR_BYTES = 4 * 1024 * 1024;
const GC_MAJOR_BYTES = 32 * 1024 * 1024;

export interface RelayServerOptions {
  host?: string;
  port?: number;
  limits?: Partial<RelayLimits>;
  /** Private relay: only these cell IDs may listen or dial. */
  allow?: readonly string[];
  /** Private relay: hellos must carry this shared token. */
  token?: string;
  /**
   * The URLs cells dial this relay by; a hello must be signed for one of them. Without any,
   * the Host header of the connection is used (see docs/protocol.md, relay threat model).
   */
  publicUrls?: readonly string[];
  clock?: () => number;
  /** A pino logger fits; `grove relay` uses lineLogger (log.ts). */
  log?: RelayLog;
  /** Open-file limit (default: read from /proc/self/limits). */
  fdLimit?: number;
  /**
   * Runs a garbage collection of the given kind (`grove relay` passes V8's, see collect.ts):
   * called as GcPacer says while bytes are forwarded, so dead frames do not pile up.
   */
  collect?: (kind: Collection) => void;
}

interface Conn {
  ws: WebSocket;
  ip: string;
  alive: boolean;
  cell?: string;
  role?: 'listen' | 'dial' | 'accept';
}

interface Pending {
  caller: Conn;
  from: string;
  to: string;
  timer: NodeJS.Timeout;
}

export interface RelayStats {
  connections: number;
  cells: number;
  streams: number;
  pending: number;
  /** Bytes the relay holds in its own queues (handed to a socket, not yet written). */
  queued: number;
}

export class RelayServer {
  readonly limits: RelayLimits;
  /** The listening HTTP server (tests tap its sockets). */
  readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly clock: () => number;
  private readonly conns = new Set<Conn>();
  private readonly listeners = new Map<string, Conn>();
  private readonly pending = new Map<string, Pending>();
  private readonly perIp: Counter;
  private readonly streamsPerCell: Counter;
  private readonly cellBuckets = new Map<string, TokenBucket>();
  private readonly total: TokenBucket;
  private readonly cap: number;
  private readonly closers = new Set<() => void>();
  /** Paused sources waiting for the relay's total queue to drain. */
  private readonly starved = new Set<() => void>();
  private readonly pacer = new GcPacer(GC_MINOR_BYTES, GC_MAJOR_BYTES);
  private upgrading = 0;
  private streams = 0;
  private queuedTotal = 0;
  private sweep: NodeJS.Timeout | undefined;

  constructor(private readonly opts: RelayServerOptions = {}) {
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.clock = opts.clock ?? Date.now;
    this.perIp = new Counter(this.limits.perIp);
    this.streamsPerCell = new Counter(this.limits.streamsPerCell);
    this.total = new TokenBucket(this.limits.totalBytesPerSec, this.limits.totalBytesPerSec, this.clock());
    this.cap = connectionCap(this.limits.maxConnections, opts.fdLimit ?? readFdLimit());
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.limits.maxFrame, perMessageDeflate: false });
    this.http = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('grove relay: WebSocket only\n');
    });
    this.http.headersTimeout = this.limits.handshakeMs;
    this.http.requestTimeout = this.limits.handshakeMs;
    // Raw TCP connections beyond this are closed by Node at once (before any parsing).
    this.http.maxConnections = this.cap + 16;
    this.http.on('upgrade', (req, socket: Duplex, head) => this.onUpgrade(req, socket, head));
  }

  /** Listens; resolves with the relay's URL (`ws://host:port`). */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.opts.port ?? 7430, this.opts.host ?? '0.0.0.0', () => resolve());
    });
    this.sweep = setInterval(() => this.heartbeat(), this.limits.pingMs);
    return this.url;
  }

  get url(): string {
    const a = this.http.address() as AddressInfo;
    const host = a.address === '0.0.0.0' || a.address === '::' ? '127.0.0.1' : a.address;
    return `ws://${host.includes(':') ? `[${host}]` : host}:${a.port}`;
  }

  get connectionCap(): number {
    return this.cap;
  }

  stats(): RelayStats {
    return { connections: this.conns.size, cells: this.listeners.size, streams: this.streams, pending: this.pending.size, queued: this.queuedTotal };
  }

  async stop(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    for (const c of this.conns) c.ws.terminate();
    for (const close of this.closers) close();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections();
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    const refuse = (status: number, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    if (path !== PATHS.listen && path !== PATHS.dial && path !== PATHS.accept) return refuse(404, 'Not Found');
    if (this.conns.size + this.upgrading >= this.cap) return refuse(503, 'Service Unavailable');
    const ip = req.socket.remoteAddress ?? '?';
    if (!this.perIp.tryAdd(ip)) return refuse(429, 'Too Many Requests');
    this.upgrading++;
    let upgraded = false;
    // An invalid upgrade is answered and closed by ws without calling back: release its slot.
    socket.once('close', () => {
      if (upgraded) return;
      this.upgrading--;
      this.perIp.remove(ip);
    });
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      upgraded = true;
      this.upgrading--;
      this.onConnection(ws, req, ip, path as string);
    });
  }

  private onConnection(ws: WebSocket, req: IncomingMessage, ip: string, path: string): void {
    const conn: Conn = { ws, ip, alive: true };
    this.conns.add(conn);
    ws.on('pong', () => { conn.alive = true; });
    ws.on('error', () => ws.terminate());
    ws.once('close', () => {
      this.conns.delete(conn);
      this.perIp.remove(ip);
      if (conn.role === 'listen' && conn.cell && this.listeners.get(conn.cell) === conn) this.listeners.delete(conn.cell);
    });
    const nonce = randomBytes(32).toString('base64url');
    const timer = setTimeout(() => fail(conn, 'TIMEOUT', 'handshake timed out'), this.limits.handshakeMs);
    ws.once('close', () => clearTimeout(timer));
    send(ws, { t: 'challenge', nonce });
    const urls = this.opts.publicUrls?.length ? this.opts.publicUrls : [`ws://${String(req.headers.host ?? '').toLowerCase()}`];
    ws.once('message', (data: RawData, isBinary: boolean) => {
      clearTimeout(timer);
      const raw = toBuffer(data);
      const hello = !isBinary && raw.length <= MAX_CONTROL_MESSAGE ? parseHello(raw.toString('utf8')) : undefined;
      if (!hello || hello.t !== path.slice(4)) return fail(conn, 'BAD_MESSAGE', 'expected a hello');
      if (hello.t === 'accept') return this.onAccept(conn, hello.sid);
      const to = hello.t === 'dial' ? hello.to : '';
      if (!urls.some((u) => verifyHello(hello.id, hello.sig, u, nonce, hello.t, to))) return fail(conn, 'UNAUTHENTICATED', 'signature does not prove that cell ID');
      if (this.opts.token !== undefined && hello.token !== this.opts.token) return fail(conn, 'FORBIDDEN', 'private relay: wrong token');
      if (this.opts.allow && !this.opts.allow.includes(hello.id)) return fail(conn, 'FORBIDDEN', 'private relay: cell not allowed');
      conn.cell = hello.id;
      if (hello.t === 'listen') this.onListen(conn);
      else this.onDial(conn, hello.to);
    });
  }

  private onListen(conn: Conn): void {
    const id = conn.cell!;
    // The first connection of a cell keeps its place: a second one gets nothing.
    if (this.listeners.has(id)) return fail(conn, 'DUPLICATE', 'this cell is already connected');
    conn.role = 'listen';
    this.listeners.set(id, conn);
    send(conn.ws, { t: 'ok' });
    // A listening cell sends nothing more; anything it sends is a protocol error.
    conn.ws.on('message', () => fail(conn, 'BAD_MESSAGE', 'unexpected message'));
    this.opts.log?.info({ cell: id.slice(0, 8) }, 'cell connected');
  }

  private onDial(conn: Conn, to: string): void {
    const from = conn.cell!;
    conn.role = 'dial';
    const target = this.listeners.get(to);
    if (!target) return fail(conn, 'NOT_CONNECTED', 'that cell is not connected here');
    if (this.opts.allow && !this.opts.allow.includes(to)) return fail(conn, 'FORBIDDEN', 'private relay: cell not allowed');
    if (!this.streamsPerCell.tryAdd(from)) return fail(conn, 'TOO_MANY', 'too many streams for this cell');
    if (!this.streamsPerCell.tryAdd(to)) {
      this.streamsPerCell.remove(from);
      return fail(conn, 'TOO_MANY', 'too many streams for the called cell');
    }
    const sid = randomBytes(18).toString('base64url');
    const release = () => { this.streamsPerCell.remove(from); this.streamsPerCell.remove(to); };
    const timer = setTimeout(() => {
      this.pending.delete(sid);
      release();
      fail(conn, 'TIMEOUT', 'the called cell did not accept');
    }, this.limits.acceptMs);
    this.pending.set(sid, { caller: conn, from, to, timer });
    conn.ws.once('close', () => {
      if (this.pending.delete(sid)) {
        clearTimeout(timer);
        release();
      }
    });
    conn.ws.on('message', () => { if (this.pending.has(sid)) fail(conn, 'BAD_MESSAGE', 'data before the stream was joined'); });
    send(target.ws, { t: 'incoming', sid, from });
  }

  private onAccept(conn: Conn, sid: string): void {
    const p = this.pending.get(sid);
    if (!p) return fail(conn, 'NOT_CONNECTED', 'no such stream');
    this.pending.delete(sid);
    clearTimeout(p.timer);
    conn.role = 'accept';
    conn.cell = p.to;
    p.caller.ws.removeAllListeners('message');
    this.join(p.caller, conn, () => { this.streamsPerCell.remove(p.from); this.streamsPerCell.remove(p.to); });
  }

  /**
   * Pipes two WebSockets both ways with a bounded queue and rate limits in each direction. A
   * source is paused while its own queue is over `queueBytes`, while the relay as a whole
   * holds more than `totalQueueBytes`, or while it owes tokens; it resumes once its queue is
   * down to half, the relay's total too, and the debt is paid.
   */
  private join(a: Conn, b: Conn, release: () => void): void {
    this.streams++;
    let last = this.clock();
    let ended = false;
    const resumers: (() => void)[] = [];
    const end = (code = 1000) => {
      if (ended) return;
      ended = true;
      this.streams--;
      release();
      this.closers.delete(idle);
      for (const r of resumers) this.starved.delete(r);
      for (const c of [a, b]) if (c.ws.readyState === c.ws.OPEN) c.ws.close(code);
    };
    const idle = () => { if (this.clock() - last > this.limits.streamIdleMs) end(); };
    this.closers.add(idle);
    const pipe = (src: Conn, dst: Conn) => {
      let queued = 0;
      let pausedUntil = 0;
      let paused = false;
      const bucket = this.bucketOf(src.cell!);
      let timer: NodeJS.Timeout | undefined;
      // Frames that arrive together (one read) leave together: one system call, not one each.
      const out = socketOf(dst.ws);
      let corked = false;
      const uncork = () => {
        corked = false;
        out?.uncork();
      };
      const maybeResume = () => {
        // Its own queue: each send callback below calls again as it drains.
        if (!paused || ended || queued > this.limits.queueBytes / 2) return;
        // The relay's: whichever stream brings the total down wakes it (drained()).
        if (this.queuedTotal > this.limits.totalQueueBytes / 2) {
          this.starved.add(maybeResume);
          return;
        }
        const wait = pausedUntil - this.clock();
        if (wait > 0) {
          // Still in debt (a timer may fire a little early against the clock): wait the rest.
          if (!timer) timer = setTimeout(() => { timer = undefined; maybeResume(); }, wait).unref();
          return;
        }
        paused = false;
        src.ws.resume();
      };
      resumers.push(maybeResume);
      src.ws.on('message', (data: RawData, isBinary: boolean) => {
        const buf = toBuffer(data);
        if (!isBinary || buf.length > this.limits.maxFrame) return end(CLOSE.BAD_MESSAGE);
        last = this.clock();
        if (dst.ws.readyState !== dst.ws.OPEN) return;
        queued += buf.length;
        this.queuedTotal += buf.length;
        if (out && !corked) {
          corked = true;
          out.cork();
          process.nextTick(uncork);
        }
        // The frame is handed on as it came (no copy); its memory is free once written.
        dst.ws.send(buf, { binary: true }, () => {
          queued -= buf.length;
          this.queuedTotal -= buf.length;
          maybeResume();
          this.drained();
        });
        if (this.opts.collect) this.forwarded(buf.length);
        const now = this.clock();
        const wait = Math.max(bucket.take(buf.length, now), this.total.take(buf.length, now));
        if (wait > 0) pausedUntil = now + wait;
        if (wait > 0 || queued > this.limits.queueBytes || this.queuedTotal > this.limits.totalQueueBytes) {
          paused = true;
          src.ws.pause();
          maybeResume();
        }
      });
      src.ws.once('close', () => end());
    };
    pipe(a, b);
    pipe(b, a);
    send(a.ws, { t: 'ok' });
    send(b.ws, { t: 'ok' });
  }

  /**
   * Counts forwarded bytes and runs a due collection at once: one poll of the event loop can
   * read megabytes from many sockets before a deferred one would run.
   */
  private forwarded(n: number): void {
    const due = this.pacer.add(n);
    if (due) this.opts.collect?.(due);
  }

  /** Wakes the sources paused for the relay's total once it is down to half. */
  private drained(): void {
    if (!this.starved.size || this.queuedTotal > this.limits.totalQueueBytes / 2) return;
    const waiting = [...this.starved];
    this.starved.clear();
    for (const resume of waiting) resume();
  }

  private bucketOf(cell: string): TokenBucket {
    let b = this.cellBuckets.get(cell);
    if (!b) {
      // Bounded: one bucket per cell currently in a stream (pruned in heartbeat()).
      b = new TokenBucket(this.limits.cellBytesPerSec, this.limits.cellBytesPerSec, this.clock());
      this.cellBuckets.set(cell, b);
    }
    return b;
  }

  /** Pings every connection; cuts those that missed the previous pong; closes idle streams. */
  heartbeat(): void {
    for (const c of this.conns) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      if (c.ws.readyState === c.ws.OPEN) c.ws.ping();
    }
    for (const idle of [...this.closers]) idle();
    if (this.streams === 0) this.cellBuckets.clear();
  }
}

function send(ws: WebSocket, m: RelayMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m));
}

function fail(conn: Conn, code: CloseName, message: string): void {
  send(conn.ws, { t: 'error', code, message });
  conn.ws.close(CLOSE[code], message);
}

function toBuffer(d: RawData): Buffer {
  if (Buffer.isBuffer(d)) return d;
  if (Array.isArray(d)) return Buffer.concat(d);
  return Buffer.from(d);
}

function readFdLimit(): number | undefined {
  try {
    return parseFdLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return undefined;
  }
}
