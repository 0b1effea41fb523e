import { EventEmitter } from 'node:events';
import { writeFileSync, unlinkSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { openHome, type Home } from './home/home.js';
import type { Config } from './home/config.js';
import { PeerClient, type CallOptions, type PeerResponse } from './net/client.js';
import { createPeerServer } from './net/server.js';
import { SqliteNonceStore } from './net/nonces.js';
import { trackConnections, type ConnectionDrain } from './net/drain.js';
import { PeerRegistry, type PeerRecord } from './peers/registry.js';
import { PeerRecords } from './peers/records.js';
import { makeCard, type IdentityCard } from './peers/identity.js';
import { advertisedRoutes } from './peers/advertise.js';
import { probeAll, probePeer, benchmarkDueRoutes, callPeer, downloadFromPeer, peerView } from './peers/probe.js';
import { createInvite, pairWithCode } from './peers/pairing.js';
import type { CellEventMap, PeerContext, Timeouts } from './peers/context.js';
import { registerPeerApi } from './api/index.js';
import { ControlRegistry, listenControl, type ControlServer } from './daemon/control.js';
import { Loop, type LoopSpec } from './daemon/loop.js';
import { objectTotals } from './store/catalog.js';
import { BUILD_LABEL } from './build.js';
import { GroveError, describeError } from './errors.js';
import type { Readable } from 'node:stream';
import { attachSharing } from './share/attach.js';
import type { ShareService } from './share/service.js';
import { attachChat } from './chat/attach.js';
import type { ChatService } from './chat/service.js';
import type { SyncExchange } from './share/link.js';
import { attachSync, type CellSync } from './sync/attach.js';
import { atRisk } from './sync/copies.js';
import { Dashboard, type DashboardInit } from './web/server.js';
import { dashboardComponents } from './web/cell-deps.js';

// The composition root (DESIGN §5 `grove start`): builds a cell from its home and config —
// peer client, peer API server with every endpoint, peer registry, probe/benchmark records,
// background loops and the control interface — and runs its lifecycle.
//
// Extending a cell (later issues): register peer endpoints on `cell.app` and control
// commands on `cell.control` before start(); add background work with `cell.addLoop()`;
// run setup/teardown with `cell.onStart()` / `cell.onStop()`; call peers with `cell.call()`.

export interface CellOptions {
  /** The grove home directory (already initialized). */
  home: string;
  /** Peer API listener; default config api.host / api.port. Port 0 picks a free port. */
  port?: number;
  host?: string;
  /** Milliseconds since the epoch; injected by tests. */
  clock?: () => number;
  logger?: Logger;
  /** Background timing (ms). probeMs 0 disables the probe loop. */
  intervals?: { probeMs?: number; probeInitialDelayMs?: number; syncMs?: number; syncInitialDelayMs?: number };
  timeouts?: Partial<Timeouts>;
  /** Overrides config api.advertise. */
  advertise?: string[];
  /** Open the control socket (and cell.pid) on start. Default true. */
  control?: boolean;
  /** How long stop() lets in-flight requests finish before cutting connections. Default 10 s. */
  stopGraceMs?: number;
  /** Serve the web dashboard (src/web) while running; off unless given (`grove start` turns it on). */
  dashboard?: DashboardInit;
}

export const DEFAULT_PROBE_INTERVAL_MS = 60_000;
export const DEFAULT_TIMEOUTS: Timeouts = { probeMs: 5_000, benchMs: 30_000 };

type Hook = () => Promise<void> | void;
type State = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

export interface CellStatus {
  running: true;
  id: string;
  name: string;
  api_url: string;
  routes: string[];
  peers: number;
  objects: number;
  bytes: number;
  build: string;
  pid: number;
  /** Own chunks and manifests below the replication factor. */
  at_risk: number;
  /** The web dashboard's URL, null when it is not served. */
  dashboard_url: string | null;
}

export class Cell implements PeerContext {
  readonly id: string;
  readonly home: Home;
  readonly config: Config;
  readonly clock: () => number;
  readonly log: Logger;
  readonly client: PeerClient;
  readonly peers: PeerRegistry;
  readonly records: PeerRecords;
  /** The peer API (fastify). Register routes before start(); default auth is 'peer'. */
  readonly app: FastifyInstance;
  /** Commands the CLI can run on this cell over the control socket. */
  readonly control = new ControlRegistry();
  readonly events = new EventEmitter<CellEventMap>();
  readonly timeouts: Timeouts;
  /** Per-reachable-peer hooks for the sync round (SyncEnv.exchanges): grants, chat, … */
  readonly exchanges: SyncExchange[] = [];
  /** Sharing with signed grants and the Feed (issue 5). */
  readonly sharing: ShareService;
  /** Encrypted chat (issue 5). */
  readonly chat: ChatService;
  /** Replication: the sync round, holder endpoints, repair and recovery (issue 4). */
  readonly sync: CellSync;
  /** The web dashboard (src/web, docs/dashboard.md), when served. */
  readonly dashboard: Dashboard | undefined;

  private state: State = 'created';
  private readonly startHooks: Hook[] = [];
  private readonly stopHooks: Hook[] = [];
  private readonly loops = new Map<string, Loop>();
  private controlServer: ControlServer | undefined;
  private listenUrl: string | undefined;
  private pidWritten = false;
  private readonly background = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private readonly connections: ConnectionDrain;

  constructor(home: Home, private readonly opts: Omit<CellOptions, 'home'> = {}) {
    this.home = home;
    this.config = home.config;
    this.id = home.keys.cellId;
    this.clock = opts.clock ?? Date.now;
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ cell: this.id.slice(0, 8) });
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.client = new PeerClient({ selfId: this.id, identity: home.keys.identity.privateKey, clock: this.clock });
    this.peers = new PeerRegistry(home.db, this.clock);
    this.records = new PeerRecords(home.paths, (msg, detail) => this.log.warn(detail ?? {}, msg));
    this.app = createPeerServer({
      selfId: this.id,
      identity: home.keys.identity.privateKey,
      clock: this.clock,
      isKnownPeer: (id) => this.peers.isKnown(id),
      nonces: new SqliteNonceStore(home.db, this.clock),
      logger: this.log,
    });
    this.connections = trackConnections(this.app.server);
    registerPeerApi(this.app, this);
    this.registerControl();
    this.sharing = attachSharing(this);
    this.chat = attachChat(this);
    this.sync = attachSync(this, {
      ...(opts.intervals?.syncMs !== undefined ? { intervalMs: opts.intervals.syncMs } : {}),
      ...(opts.intervals?.syncInitialDelayMs !== undefined ? { initialDelayMs: opts.intervals.syncInitialDelayMs } : {}),
    });
    this.dashboard = opts.dashboard ? new Dashboard(dashboardComponents(this), opts.dashboard) : undefined;
    if (this.dashboard) {
      const d = this.dashboard;
      this.onStart(() => d.start());
      this.onStop(() => d.stop());
    }
    const probeMs = opts.intervals?.probeMs ?? DEFAULT_PROBE_INTERVAL_MS;
    if (probeMs > 0) {
      this.addLoop({
        name: 'probe',
        intervalMs: probeMs,
        initialDelayMs: opts.intervals?.probeInitialDelayMs ?? 0,
        run: (signal) => this.probeAndBench(signal),
      });
    }
    // A new peer gets probed (and benchmarked: first contact) right away when running.
    this.events.on('peer-paired', (p) => {
      if (this.state !== 'running') return;
      this.spawn(`first contact with ${p.id.slice(0, 8)}`, async (signal) => {
        const h = await probePeer(this, p.id, { signal });
        if (h.online) await benchmarkDueRoutes(this, p.id, { signal });
      });
    });
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** The peer API URL as listened on (after start), e.g. http://127.0.0.1:7420. */
  get apiUrl(): string {
    if (!this.listenUrl) throw new GroveError('NOT_RUNNING', 'the cell is not listening');
    return this.listenUrl;
  }

  /** The port actually bound (after start). */
  get port(): number {
    return (this.app.server.address() as AddressInfo).port;
  }

  /** Advertised route URLs: options/config api.advertise, else derived from the listener. */
  routes(): string[] {
    const advertise = this.opts.advertise ?? this.config.api.advertise;
    const host = this.opts.host ?? this.config.api.host;
    const port = this.listenUrl ? this.port : (this.opts.port || this.config.api.port);
    return advertisedRoutes(advertise, host, port);
  }

  card(): IdentityCard {
    return makeCard(this.home.keys, { name: this.config.name, build: BUILD_LABEL, routes: this.routes() });
  }

  /** Runs `fn` at start (after listening, before loops start), in registration order. */
  onStart(fn: Hook): void {
    this.startHooks.push(fn);
  }

  /** Runs `fn` at stop (after loops stopped, before servers close), in reverse order. */
  onStop(fn: Hook): void {
    this.stopHooks.push(fn);
  }

  /** Adds a background loop, started with the cell (or at once if it already runs). */
  addLoop(spec: LoopSpec): Loop {
    if (this.loops.has(spec.name)) throw new GroveError('INTERNAL', `loop ${spec.name} added twice`);
    const loop = new Loop(spec, this.log);
    this.loops.set(spec.name, loop);
    if (this.state === 'running') loop.start();
    return loop;
  }

  loop(name: string): Loop | undefined {
    return this.loops.get(name);
  }

  /**
   * Runs one-off background work (e.g. the first contact with a new peer). Its failure is
   * logged; stop() aborts its signal and waits for it before closing the database.
   */
  spawn(name: string, fn: (signal: AbortSignal) => Promise<void>): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    const signal = this.stopping.signal;
    const task = (async () => {
      try {
        await fn(signal);
      } catch (e) {
        if (!signal.aborted) this.log.warn({ err: e }, `${name} failed: ${describeError(e)}`);
      }
    })();
    this.background.add(task);
    void task.finally(() => this.background.delete(task));
  }

  /** A signed call to a peer over its best route (fails over to other routes). */
  call<T = unknown>(peerId: string, method: string, path: string, opts?: CallOptions): Promise<PeerResponse<T> & { route: string }> {
    return callPeer<T>(this, peerId, method, path, opts);
  }

  /** A signed streamed GET from a peer over its best route. */
  download<R>(peerId: string, path: string, sink: (body: Readable, expectedSha256: string) => Promise<R>, opts?: CallOptions): Promise<{ result: R; latencyMs: number; route: string }> {
    return downloadFromPeer(this, peerId, path, sink, opts);
  }

  status(): CellStatus {
    const totals = objectTotals(this.home.db);
    return {
      running: true,
      id: this.id,
      name: this.config.name,
      api_url: this.apiUrl,
      routes: this.routes(),
      peers: this.peers.count(),
      objects: totals.objects,
      bytes: totals.bytes,
      build: BUILD_LABEL,
      pid: process.pid,
      at_risk: atRisk({
        db: this.home.db, selfId: this.id, now: this.clock(), factor: this.config.replication.factor,
        offlineGraceMs: this.config.replication.offline_grace_s * 1000,
        peers: this.peers.list().map((p) => ({ id: p.id, preferred: p.preferred })),
        health: (id) => this.records.peerHealth(id),
      }),
      dashboard_url: this.dashboard?.url ?? null,
    };
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new GroveError('CONFLICT', `cannot start a cell that is ${this.state}`);
    this.state = 'starting';
    try {
      if (this.opts.control !== false) {
        this.controlServer = await listenControl(this.home.paths.control, this.control, { log: this.log, home: this.home.paths.root, pidPath: this.home.paths.pid });
      }
      // This process now holds the home (or runs without a control socket, as in tests).
      this.records.sweep();
      const host = this.opts.host ?? this.config.api.host;
      const port = this.opts.port ?? this.config.api.port;
      try {
        await this.app.listen({ host, port });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new GroveError('CONFLICT', `port ${port} on ${host} is already in use (choose another with --port)`);
        if (code === 'EADDRNOTAVAIL') throw new GroveError('BAD_INPUT', `cannot listen on ${host}: no such local address`);
        if (code === 'EACCES') throw new GroveError('FORBIDDEN', `not allowed to listen on port ${port} (choose one above 1023)`);
        throw e;
      }
      const addr = this.app.server.address() as AddressInfo;
      const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : addr.address;
      this.listenUrl = `http://${shown.includes(':') ? `[${shown}]` : shown}:${addr.port}`;
      if (this.controlServer) {
        writeFileSync(this.home.paths.pid, `${process.pid}\n`, { mode: 0o644 });
        this.pidWritten = true;
      }
      for (const h of this.startHooks) await h();
      this.state = 'running';
      for (const l of this.loops.values()) l.start();
      this.log.info({ id: this.id, api: this.listenUrl, routes: this.routes() }, 'cell started');
    } catch (e) {
      this.state = 'stopping';
      await this.teardown();
      throw e;
    }
  }

  /**
   * Stops background loops (their pass is aborted and awaited), runs stop hooks, stops
   * accepting connections and lets in-flight requests finish, writes the records, closes
   * the database. Safe to call more than once and on a cell that never started.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    const wasStarted = this.state !== 'created';
    this.state = 'stopping';
    if (wasStarted) this.log.info('cell stopping');
    this.stopping.abort();
    await Promise.all([...this.loops.values()].map((l) => l.stop()));
    await Promise.all([...this.background]);
    for (const h of [...this.stopHooks].reverse()) {
      try {
        await h();
      } catch (e) {
        this.log.error({ err: e }, `stop hook failed: ${describeError(e)}`);
      }
    }
    await this.teardown();
    if (wasStarted) this.log.info('cell stopped');
  }

  private async teardown(): Promise<void> {
    const closing = this.app.close();
    this.connections.drain();
    const cut = setTimeout(() => this.connections.destroyAll(), this.opts.stopGraceMs ?? 10_000);
    await closing.catch((e) => this.log.error({ err: e }, 'closing the peer API failed'));
    clearTimeout(cut);
    await this.controlServer?.close();
    this.controlServer = undefined;
    if (this.pidWritten) {
      try {
        if (readFileSync(this.home.paths.pid, 'utf8').trim() === String(process.pid)) unlinkSync(this.home.paths.pid);
      } catch {
        /* already gone */
      }
    }
    await this.records.flush();
    this.client.close();
    this.home.close();
    this.state = 'stopped';
  }

  /** One probe pass over every peer, then benchmarks of the routes that are due. */
  async probeAndBench(signal?: AbortSignal): Promise<void> {
    const health = await probeAll(this, { signal });
    for (const [peerId, h] of health) {
      if (signal?.aborted) return;
      if (h.online) await benchmarkDueRoutes(this, peerId, { signal });
    }
  }

  private registerControl(): void {
    this.control.register('status', () => this.status());
    this.control.register('invite', () => createInvite(this));
    this.control.register('pair', async (p, { signal }) => {
      if (typeof p.code !== 'string') throw new GroveError('BAD_INPUT', 'missing invite code');
      return pairResult(await pairWithCode(this, p.code, { signal }));
    });
    this.control.register('peers', async (p, { signal }) => {
      if (p.probe === true) await this.probeAndBench(signal);
      return { peers: this.peers.list().map((peer) => peerView(this, peer)) };
    });
  }
}

export function pairResult(p: PeerRecord): { id: string; name: string; routes: string[] } {
  return { id: p.id, name: p.name, routes: p.routes.map((r) => r.url) };
}

/** Opens the home and builds its cell (not yet listening: call start()). */
export async function createCell(opts: CellOptions): Promise<Cell> {
  const home = openHome(opts.home);
  try {
    const { home: _root, ...rest } = opts;
    return new Cell(home, rest);
  } catch (e) {
    home.close();
    throw e;
  }
}
