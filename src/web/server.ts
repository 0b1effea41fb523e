import type { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fastify, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Home } from '../home/home.js';
import type { ControlRegistry } from '../daemon/control.js';
import type { CellEvents } from '../peers/context.js';
import type { PeerHealth } from '../peers/records.js';
import type { RoundSummary } from '../sync/round.js';
import type { FetchObject } from '../ingest/restore.js';
import type { SharedSource } from '../share/get.js';
import type { WatchEvents } from '../watch/service.js';
import type { HeldGrant } from '../share/received.js';
import { GroveError, describeError, isGroveError } from '../errors.js';
import { SECURITY_HEADERS, allowedHosts, hostAllowed, isLoopbackHost, originAllowed, readCookie } from './security.js';
import { SessionStore, csrfMatches, fingerprint, DEFAULT_SESSIONS, type Session, type SessionPolicy } from './sessions.js';
import { LoginLimiter, DEFAULT_LOGIN_LIMIT, type LoginLimitPolicy } from './login-limit.js';
import { EventLog, sseFrame } from './event-log.js';
import { loadAssets, registerAssets, type Assets } from './assets.js';
import { registerAuthRoutes, sessionAnswer } from './routes-auth.js';
import { registerDataRoutes } from './routes-data.js';
import { registerTransferRoutes, sweepTransfers } from './routes-transfer.js';

// The web dashboard's server (docs/dashboard.md): its own fastify instance, separate from
// the peer API, bound to loopback by default. A thin adapter over the cell: commands go
// through the same control registry the CLI uses over its socket, queries read the home
// database as the CLI does. Built from narrow collaborators (below), so wiring it into a
// cell is one line.

export const SESSION_COOKIE = 'grove_session';
export const CSRF_HEADER = 'x-grove-csrf';

/** What the dashboard needs from a cell. */
export interface DashboardComponents {
  home: Home;
  control: ControlRegistry;
  events: CellEvents;
  /** Milliseconds since the epoch. */
  clock: () => number;
  log: Logger;
  /** The cell's peer health records (online state for copy counts). */
  peerHealth: (peerId: string) => PeerHealth | undefined;
  /** Fetches one of our objects that is missing or corrupt here from a holder. */
  fetchObject?: FetchObject;
  /** How to read a file shared with this cell: the key from its grant, missing objects from the sharer. */
  sharedSource: (held: HeldGrant, signal: AbortSignal) => SharedSource;
  /** The relays the cell listens on now (config relay.urls when it started), connected or not. */
  relays: () => { url: string; connected: boolean }[];
  /** Watched folders' events: an ingested or vanished file changes the Files page. */
  watch?: Pick<EventEmitter<WatchEvents>, 'on' | 'off'>;
  /** The sync round: the last one, when the loop runs next, whether one runs now. */
  syncState: () => { last: RoundSummary | undefined; nextAt: number | undefined; busy: boolean };
}

export interface DashboardInit {
  /** Default config dashboard.host / dashboard.port; port 0 picks a free one. */
  host?: string;
  port?: number;
  /** Further Host names to answer to (e.g. a LAN name when bound to 0.0.0.0). */
  allowHosts?: string[];
  sessions?: Partial<SessionPolicy>;
  loginLimit?: Partial<LoginLimitPolicy>;
  /** Largest upload accepted (default 64 GiB). */
  maxUploadBytes?: number;
  /** Where the built page is (default dist/web beside the compiled server). */
  assetsDir?: string;
  /** When the cell started (uptime). */
  startedAt?: number;
}

export const DEFAULT_MAX_UPLOAD = 64 * 1024 ** 3;
const MAX_EVENT_STREAMS = 32;
const HEARTBEAT_MS = 20_000;
const OBJECT_BURST_MS = 300;

declare module 'fastify' {
  interface FastifyRequest {
    session?: Session;
  }
}

/** Shared by the route modules. */
export interface DashboardContext extends DashboardComponents {
  sessions: SessionStore;
  limiter: LoginLimiter;
  feed: EventLog;
  /** When the dashboard (with its cell) started. */
  startedAt: number;
  maxUploadBytes: number;
  /** Fingerprint of the current password file ('' when there is none). */
  authFingerprint(): string;
  /** The running server's URL. */
  url(): string | undefined;
  /** Aborted when the dashboard stops. */
  signal: AbortSignal;
}

export class Dashboard {
  readonly app: FastifyInstance;
  readonly feed = new EventLog();
  private readonly ctx: DashboardContext;
  private readonly stopping = new AbortController();
  private hosts: Set<string>;
  private readonly streams = new Set<FastifyReply>();
  private listenUrl: string | undefined;
  private readonly unhook: (() => void)[] = [];
  private readonly assets: Assets;

  constructor(private readonly c: DashboardComponents, private readonly init: DashboardInit = {}) {
    const cfg = c.home.config.dashboard;
    this.hosts = allowedHosts(this.host, init.port ?? cfg.port, init.allowHosts);
    const paths = c.home.paths;
    this.ctx = {
      ...c,
      sessions: new SessionStore({ ...DEFAULT_SESSIONS, ...init.sessions }),
      limiter: new LoginLimiter({ ...DEFAULT_LOGIN_LIMIT, ...init.loginLimit }),
      feed: this.feed,
      startedAt: init.startedAt ?? c.clock(),
      maxUploadBytes: init.maxUploadBytes ?? DEFAULT_MAX_UPLOAD,
      authFingerprint: () => {
        try {
          return fingerprint(readFileSync(paths.dashboardAuth, 'utf8'));
        } catch {
          return '';
        }
      },
      url: () => this.listenUrl,
      signal: this.stopping.signal,
    };
    this.assets = loadAssets(init.assetsDir);
    this.app = this.build();
  }

  get host(): string {
    return this.init.host ?? this.c.home.config.dashboard.host;
  }

  /** http://host:port once listening. */
  get url(): string | undefined {
    return this.listenUrl;
  }

  async start(): Promise<void> {
    const host = this.host;
    const port = this.init.port ?? this.c.home.config.dashboard.port;
    if (!isLoopbackHost(host)) {
      this.c.log.warn({ host }, 'the dashboard listens on a non-loopback address: anyone who can reach it can try the password; prefer 127.0.0.1 and an SSH tunnel');
    }
    await sweepTransfers(this.c.home);
    this.ctx.startedAt = this.init.startedAt ?? this.c.clock();
    try {
      await this.app.listen({ host, port });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE') throw new GroveError('CONFLICT', `dashboard port ${port} on ${host} is already in use (set dashboard.port, 0 for any free port)`);
      if (code === 'EADDRNOTAVAIL') throw new GroveError('BAD_INPUT', `cannot listen on ${host} for the dashboard: no such local address`);
      throw e;
    }
    const bound = (this.app.server.address() as AddressInfo).port;
    this.hosts = allowedHosts(host, bound, this.init.allowHosts);
    const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
    this.listenUrl = `http://${shown}:${bound}`;
    this.hookCellEvents();
    this.c.log.info({ url: this.listenUrl }, 'dashboard listening');
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    for (const u of this.unhook.splice(0)) u();
    for (const s of this.streams) s.raw.end();
    this.streams.clear();
    await this.app.close();
  }

  private hookCellEvents(): void {
    const on = <K extends Parameters<CellEvents['on']>[0]>(name: K, fn: (...args: never[]) => void) => {
      this.c.events.on(name, fn as never);
      this.unhook.push(() => this.c.events.off(name, fn as never));
    };
    const f = this.feed;
    on('peer-paired', () => f.publish('peers'));
    on('probe', (peerId: string) => f.publish('peers', { peer: peerId }));
    on('chat-received', (peer: string) => f.publish('chat', { peer }));
    on('chat-delivered', (peer: string) => f.publish('chat', { peer }));
    on('grant-received', () => f.publish('feed'));
    on('grant-dropped', () => f.publish('feed'));
    // Objects arrive in bursts (replication, a shared file's chunks), and so do a watched
    // folder's files during a scan: one update per burst.
    const timers = new Set<NodeJS.Timeout>();
    const perBurst = (fn: () => void) => {
      let timer: NodeJS.Timeout | undefined;
      return () => {
        if (timer) return;
        const t = setTimeout(() => {
          timers.delete(t);
          timer = undefined;
          fn();
        }, OBJECT_BURST_MS);
        timer = t;
        timers.add(t);
      };
    };
    this.unhook.push(() => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    });
    on('object-stored', perBurst(() => {
      f.publish('feed');
      f.publish('overview');
    }));
    on('sync-done', () => {
      f.publish('sync');
      f.publish('files');
    });
    const w = this.c.watch;
    if (w) {
      const files = perBurst(() => {
        f.publish('files');
        f.publish('overview');
        f.publish('settings'); // the folder's file counts
      });
      const folders = perBurst(() => f.publish('settings'));
      w.on('ingested', files);
      w.on('gone', files);
      w.on('paused', folders);
      w.on('scanned', folders);
      this.unhook.push(() => {
        w.off('ingested', files);
        w.off('gone', files);
        w.off('paused', folders);
        w.off('scanned', folders);
      });
    }
  }

  private build(): FastifyInstance {
    const app = fastify({ logger: false, bodyLimit: 64 * 1024, trustProxy: false, return503OnClosing: true });
    const ctx = this.ctx;

    app.addHook('onRequest', async (req, reply) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
      if (req.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
      if (!hostAllowed(req.headers.host, this.hosts)) throw new GroveError('FORBIDDEN', 'this dashboard does not answer to that host name');
      const changes = req.method !== 'GET' && req.method !== 'HEAD';
      if (changes && !originAllowed(header(req, 'origin'), header(req, 'sec-fetch-site'), this.hosts)) {
        throw new GroveError('FORBIDDEN', 'cross-origin request refused');
      }
      const path = req.url.split('?')[0]!;
      const sessionOf = () => ctx.sessions.get(readCookie(req.headers.cookie, SESSION_COOKIE), ctx.clock(), ctx.authFingerprint());
      // The page is served to anyone, and carries the session when there is one.
      if (path === '/' && !changes) req.session = sessionOf();
      if (!path.startsWith('/api/') || path === '/api/login') return;
      const s = sessionOf();
      if (!s) throw new GroveError('UNAUTHENTICATED', 'log in first');
      if (changes && !csrfMatches(s, header(req, CSRF_HEADER))) throw new GroveError('FORBIDDEN', 'missing or wrong CSRF token: reload the page');
      req.session = s;
    });

    app.setErrorHandler((err, req, reply) => {
      const g = isGroveError(err) ? err : undefined;
      const fst = err as { statusCode?: number; code?: string };
      let status = g?.status ?? (fst.statusCode && fst.statusCode < 500 ? fst.statusCode : 500);
      let code: string = g?.code ?? (status === 413 ? 'TOO_LARGE' : status < 500 ? 'BAD_INPUT' : 'INTERNAL');
      if (fst.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
        status = 415;
        code = 'BAD_INPUT';
      }
      if (status >= 500) ctx.log.error({ err, url: req.url }, `dashboard request failed: ${describeError(err)}`);
      const message = status >= 500 && !g ? 'internal error (see the cell log)' : describeError(err);
      void reply.status(status).header('cache-control', 'no-store').send({ error: code, message, ...(g?.detail ? { detail: g.detail } : {}) });
    });
    app.setNotFoundHandler((_req, reply) => {
      void reply.status(404).send({ error: 'NOT_FOUND', message: 'no such page' });
    });

    registerAssets(app, this.assets, (req) => (req.session ? sessionAnswer(ctx, req.session) : undefined));
    registerAuthRoutes(app, ctx);
    registerDataRoutes(app, ctx);
    registerTransferRoutes(app, ctx);
    app.get('/api/events', (req, reply) => this.eventStream(req, reply));
    return app;
  }

  /** GET /api/events: server-sent events, resumable with Last-Event-ID. */
  private eventStream(req: FastifyRequest, reply: FastifyReply): void {
    if (this.streams.size >= MAX_EVENT_STREAMS) throw new GroveError('CONFLICT', 'too many open dashboard pages');
    const last = header(req, 'last-event-id') ?? (req.query as { last?: string }).last;
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    raw.write('retry: 2000\n\n');
    for (const e of this.feed.since(last)) raw.write(sseFrame(e));
    const token = readCookie(req.headers.cookie, SESSION_COOKIE);
    const unsubscribe = this.feed.subscribe((e) => raw.write(sseFrame(e)));
    // The heartbeat keeps proxies from closing the stream and ends it once the session is gone.
    const beat = setInterval(() => {
      if (!this.ctx.sessions.get(token, this.ctx.clock(), this.ctx.authFingerprint())) raw.end();
      else raw.write(': ping\n\n');
    }, HEARTBEAT_MS);
    this.streams.add(reply);
    raw.once('close', () => {
      clearInterval(beat);
      unsubscribe();
      this.streams.delete(reply);
    });
  }
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
