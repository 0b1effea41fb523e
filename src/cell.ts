import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { openHome, type Home } from './home/home.js';
import type { Config } from './home/config.js';
import { PeerClient, type CallOptions, type PeerResponse } from './net/client.js';
import { createPeerServer } from './net/server.js';
import { SqliteNonceStore } from './net/nonces.js';
import { makeTlsIdentity } from './tls/certificate.js';
import { dialRelay } from './relay/dial.js';
import { relayRoute } from './relay/protocol.js';
import { startRelayLinks } from './relay/links.js';
import type { RelayLinkTiming } from './relay/link.js';
import { trackConnections, type ConnectionDrain } from './net/drain.js';
import { PeerRegistry } from './peers/registry.js';
import { PeerRecords } from './peers/records.js';
import { makeCard, type IdentityCard } from './peers/identity.js';
import { advertisedRoutes } from './peers/advertise.js';
import { probeAll, probePeer, benchmarkDueRoutes, callPeer, downloadFromPeer } from './peers/probe.js';
import { registerPeerControl } from './peers/control.js';
import { peersSection } from './peers/index-section.js';
import type { CellEventMap, PairingContext, HolderContext, Timeouts } from './peers/context.js';
import { registerPeerApi } from './api/index.js';
import { ControlRegistry, listenControl, type ControlServer } from './daemon/control.js';
import { Loop, type LoopSpec } from './daemon/loop.js';
import type { Runtime, Service } from './daemon/components.js';
import { pidFile, type PidFile } from './daemon/pidfile.js';
import { cellStatus, type CellStatus, type StatusSource } from './daemon/status.js';
import { objectTotals } from './store/catalog.js';
import { BUILD_LABEL } from './build.js';
import { GroveError, describeError } from './errors.js';
import { IndexSections } from './recovery/sections.js';
import { filesSection } from './ingest/index-section.js';
import { sharing, type Sharing } from './share/feature.js';
import { chat } from './chat/feature.js';
import type { ChatService } from './chat/service.js';
import { sync, type CellSync } from './sync/feature.js';
import type { PeerExchange } from './sync/round.js';
import { atRiskNow } from './sync/plan.js';
import { diskStatus } from './guard/status.js';
import { peerEdge } from './guard/edge.js';
import { assertCatalogMatchesObjects, catalogIsEmpty, setAsideObjects } from './guard/catalog.js';
import { sweepStaleTemp } from './guard/sweep.js';
import { attachUpdates } from './update/attach.js';
import { runningBuild } from './update/running.js';
import { supervisionFromEnv } from './watchdog/supervision.js';
import { WatchService } from './watch/service.js';
import { registerWatchControl } from './watch/control.js';
import { MdnsDiscovery } from './discovery/mdns.js';
import { confirmByHealth } from './discovery/confirm.js';
import { registerDiscoveryControl } from './discovery/control.js';
import { DeleteService } from './delete/service.js';
import { registerDeleteRoutes } from './delete/holder.js';
import { registerDeleteControl } from './delete/control.js';
import { Dashboard, type DashboardInit, type DashboardComponents } from './web/server.js';
import { fetchFromPeers } from './sync/repair.js';
import { sharedSource } from './share/get.js';

// The composition root (docs/design.md §5 `grove start`): opens the home, builds the peer
// layer (client, TLS server, registry, records), hands each feature the narrow components it
// needs (`feature(init)(components)` for sharing, chat and sync; the later features take
// their collaborators the same way, as plain objects), and runs the lifecycle: listen, start
// services and loops, stop within a grace. Adding a feature is one folder plus its wiring
// lines in the constructor. Only the CLI (src/cli/) imports this module.

export type { CellStatus } from './daemon/status.js';

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
  intervals?: { probeMs?: number; probeInitialDelayMs?: number; syncMs?: number; syncInitialDelayMs?: number; watchRootMs?: number };
  timeouts?: Partial<Timeouts>;
  /** Overrides config api.advertise. */
  advertise?: string[];
  /** Open the control socket (and cell.pid) on start. Default true. */
  control?: boolean;
  /** How long stop() lets in-flight requests finish before cutting connections. Default 10 s. */
  stopGraceMs?: number;
  /** With a lost (empty) placement.db, move chunks/ to trash/ instead of refusing to start. */
  setAsideObjects?: boolean;
  /** Check all of placement.db at open (`grove start`: once per run; commands skip it, it reads every page). */
  checkDb?: boolean;
  /** Relay link reconnect and ping timing (tests). */
  relayTiming?: Partial<RelayLinkTiming>;
  /** Serve the web dashboard (src/web) while running; off unless given (`grove start` turns it on). */
  dashboard?: DashboardInit;
}

export const DEFAULT_PROBE_INTERVAL_MS = 60_000;
export const DEFAULT_TIMEOUTS: Timeouts = { probeMs: 5_000, benchMs: 30_000 };

type State = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

export class Cell implements PairingContext, HolderContext {
  readonly id: string;
  readonly home: Home;
  readonly config: Config;
  readonly clock: () => number;
  readonly log: Logger;
  readonly client: PeerClient;
  readonly peers: PeerRegistry;
  readonly records: PeerRecords;
  /** The peer API (fastify). Features register their routes on it before start(). */
  readonly app: FastifyInstance;
  /** Commands the CLI can run on this cell over the control socket. */
  readonly control = new ControlRegistry();
  readonly events = new EventEmitter<CellEventMap>();
  readonly timeouts: Timeouts;
  readonly benchIntervalMs: number;
  /** Per-reachable-peer deliveries of the features, run by the sync round (step 4d). */
  readonly exchanges: PeerExchange[] = [];
  /** What the recovery index carries, one section per feature. */
  readonly sections = new IndexSections();
  readonly sharing: Sharing['service'];
  readonly chat: ChatService;
  readonly sync: CellSync;
  /** Signed peer-to-peer updates (src/update/). */
  readonly updates: ReturnType<typeof attachUpdates>;
  /** Watched folders (src/watch/). */
  readonly watch: WatchService;
  /** mDNS discovery (src/discovery/); undefined when disabled or the API listens on loopback only. */
  readonly discovery: MdnsDiscovery | undefined;
  /** Signed deletes with a trash (src/delete/). */
  readonly deletes: DeleteService;
  /** The web dashboard (src/web, docs/dashboard.md), when served. */
  readonly dashboard: Dashboard | undefined;

  private state: State = 'created';
  private readonly services: Service[] = [];
  private readonly statusSources: StatusSource[] = [];
  private readonly loops = new Map<string, Loop>();
  private controlServer: ControlServer | undefined;
  private listenUrl: string | undefined;
  private readonly pid: PidFile;
  private readonly background = new Set<Promise<void>>();
  private readonly stopping = new AbortController();
  private readonly connections: ConnectionDrain;
  /** The relays this cell listens on (config relay.urls at start), connected or not. */
  private readonly relayState: () => { url: string; connected: boolean }[];

  constructor(home: Home, private readonly opts: Omit<CellOptions, 'home'> = {}) {
    this.home = home;
    this.config = home.config;
    this.id = home.keys.cellId;
    this.clock = opts.clock ?? Date.now;
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ cell: this.id.slice(0, 8) });
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...opts.timeouts };
    this.benchIntervalMs = home.config.bench.interval_s * 1000;
    this.pid = pidFile(home.paths.pid);
    const relayMe = { selfId: this.id, identity: home.keys.identity.privateKey, ...(this.config.relay.token ? { token: this.config.relay.token } : {}) };
    this.client = new PeerClient({
      selfId: this.id, identity: home.keys.identity.privateKey, clock: this.clock,
      dialRelay: (route, peerId, signal) => dialRelay(route, peerId, signal, relayMe),
    });
    this.peers = new PeerRegistry(home.db, this.clock);
    this.records = new PeerRecords(home.paths, (msg, detail) => this.log.warn(detail ?? {}, msg));
    this.app = createPeerServer({
      selfId: this.id,
      identity: home.keys.identity.privateKey,
      clock: this.clock,
      isKnownPeer: (id) => this.peers.isKnown(id),
      nonces: new SqliteNonceStore(home.db, this.clock),
      logger: this.log,
      ...peerEdge(home.config.limits, this.clock),
      tls: () => makeTlsIdentity(home.keys.identity.privateKey, home.keys.identity.publicKey),
    });
    this.connections = trackConnections(this.app.server);
    // Relays (config relay.urls): streams they bring in are fed to the TLS peer server.
    const relayLinks = startRelayLinks({
      urls: this.config.relay.urls, me: relayMe, log: this.log, signal: this.stopping.signal, server: this.app.server,
      onStart: (f) => this.addService({ start: f }), onStop: (f) => this.addService({ stop: f }),
      ...(opts.relayTiming ? { timing: opts.relayTiming } : {}),
    });
    this.relayState = () => this.config.relay.urls.map((url, i) => ({ url, connected: relayLinks[i]?.connected ?? false }));

    // The wiring: each feature gets the components it names, nothing else.
    const isRunning = () => this.running;
    const runtime: Runtime = {
      clock: this.clock, log: this.log, signal: this.stopping.signal,
      loops: { addLoop: (spec) => this.addLoop(spec) },
      tasks: { spawn: (name, fn) => this.spawn(name, fn), get running() { return isRunning(); } },
      control: this.control, api: this.app,
    };
    const peer: PairingContext & HolderContext = {
      id: this.id, home, clock: this.clock, log: this.log, client: this.client, peers: this.peers,
      records: this.records, events: this.events, timeouts: this.timeouts, benchIntervalMs: this.benchIntervalMs,
      routes: () => this.routes(), card: () => this.card(),
    };
    const shared = { ...runtime, peer, home, exchanges: this.exchanges, sections: this.sections };
    registerPeerApi(this.app, peer);
    registerPeerControl(this.control, peer, (signal) => this.probeAndBench(signal));
    // A cell answers `status` once it is fully up (the watchdog's health check relies on it).
    this.control.register('status', () => {
      if (!this.running) throw new GroveError('NOT_RUNNING', `the cell is ${this.state}`);
      return this.status();
    });
    this.addStatus(() => ({ disk: diskStatus(home.paths.chunks, home.config.storage.reserve_bytes) }));
    this.sections.register(peersSection(this.peers, this.id));
    this.sections.register(filesSection({ db: home.db, objects: home.objects, master: home.keys.master, selfId: this.id }));
    const shares = sharing()(shared);
    this.sharing = shares.service;
    this.chat = chat()(shared);
    this.sync = sync({
      ...(opts.intervals?.syncMs !== undefined ? { intervalMs: opts.intervals.syncMs } : {}),
      ...(opts.intervals?.syncInitialDelayMs !== undefined ? { initialDelayMs: opts.intervals.syncInitialDelayMs } : {}),
    })({ ...shared, isPinned: shares.isPinned });
    this.updates = attachUpdates({
      home: home.paths.root, app: this.app, control: this.control, exchanges: this.exchanges,
      client: this.client, clock: this.clock, log: this.log, update: () => this.config.update,
    });
    // The running build and its watchdog, if any, in `grove status`.
    this.addStatus(() => ({ ...runningBuild(), ...supervisionFromEnv(process.env) }));

    const watch = new WatchService({ home, clock: this.clock, log: this.log, addLoop: runtime.loops.addLoop }, {
      settleMs: this.config.watch.settle_ms, ignore: this.config.watch.ignore, rescanMs: this.config.watch.rescan_s * 1000,
      ...(opts.intervals?.watchRootMs !== undefined ? { rootCheckMs: opts.intervals.watchRootMs } : {}),
    });
    this.watch = watch;
    registerWatchControl(this.control, watch);
    this.addService({ start: () => watch.start(), stop: () => watch.stop() });
    this.addStatus(() => ({ watch: watch.list() }));

    const apiHost = opts.host ?? this.config.api.host;
    // A cell listening on loopback only cannot be reached from the LAN: nothing to announce.
    this.discovery = this.config.mdns.enabled && !/^(127\.|::1$|localhost$)/.test(apiHost) ? new MdnsDiscovery({
      selfId: this.id, port: () => this.port, clock: this.clock, log: this.log, addLoop: runtime.loops.addLoop, peers: this.peers,
      confirm: confirmByHealth(this.client, this.timeouts.probeMs),
      onRoute: (id) => this.spawn(`probing ${id.slice(0, 8)}`, async (signal) => { await probePeer(peer, id, { signal }); }),
    }, { name: this.config.mdns.name, intervalMs: this.config.mdns.interval_s * 1000 }) : undefined;
    registerDiscoveryControl(this.control, this.discovery);
    if (this.discovery) {
      const d = this.discovery;
      this.addService({ start: () => d.start(), stop: () => d.stop() });
    }

    const deletes = new DeleteService({
      home, clock: this.clock, log: this.log, addLoop: runtime.loops.addLoop,
      call: (id, m, p, o) => this.call(id, m, p, o), download: (id, p, sink, o) => this.download(id, p, sink, o),
      isPinned: (h) => shares.isPinned(h),
      onCatalogChange: () => {
        const round = this.loop('sync');
        if (round && this.running) this.spawn('sync round after a delete', () => round.runNow());
      },
    }, { graceMs: this.config.delete.grace_s * 1000, confirmOver: this.config.delete.confirm_over });
    this.deletes = deletes;
    registerDeleteRoutes(this.app, { home, selfId: this.id, clock: this.clock, isPinned: (h, owner) => shares.isPinned(h, owner) });
    registerDeleteControl(this.control, deletes);
    this.exchanges.push(deletes.exchange());

    // The dashboard: a thin adapter over the control commands, the home's read models and events.
    this.dashboard = opts.dashboard ? new Dashboard(this.dashboardComponents(), opts.dashboard) : undefined;
    if (this.dashboard) {
      const d = this.dashboard;
      this.addService({ start: () => d.start(), stop: () => d.stop() });
    }
    this.addStatus(() => ({ dashboard_url: this.dashboard?.url ?? null }));

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
      if (!this.running) return;
      this.spawn(`first contact with ${p.id.slice(0, 8)}`, async (signal) => {
        const h = await probePeer(this, p.id, { signal });
        if (h.online) await benchmarkDueRoutes(this, p.id, { signal });
      });
    });
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** The peer API URL as listened on (after start), e.g. https://127.0.0.1:7420. */
  get apiUrl(): string {
    if (!this.listenUrl) throw new GroveError('NOT_RUNNING', 'the cell is not listening');
    return this.listenUrl;
  }

  /** The port actually bound (after start). */
  get port(): number {
    return (this.app.server.address() as AddressInfo).port;
  }

  /** Advertised route URLs: options/config api.advertise, else what the listener serves. */
  routes(): string[] {
    const advertise = this.opts.advertise ?? this.config.api.advertise;
    const host = this.opts.host ?? this.config.api.host;
    const port = this.listenUrl ? this.port : (this.opts.port || this.config.api.port);
    return [...advertisedRoutes(advertise, host, port), ...this.config.relay.urls.map((u) => relayRoute(u, this.id))];
  }

  card(): IdentityCard {
    return makeCard(this.home.keys, { name: this.config.name, build: BUILD_LABEL, routes: this.routes() });
  }

  /** What the dashboard is built from (src/web/server.ts). */
  dashboardComponents(): DashboardComponents {
    return {
      home: this.home, control: this.control, events: this.events, clock: this.clock, log: this.log,
      peerHealth: (id) => this.records.peerHealth(id),
      fetchObject: (hash) => fetchFromPeers(this.sync.fetch(), hash),
      sharedSource: (held, signal) => sharedSource(this, held, signal),
      relays: () => this.relayState(),
      watch: this.watch,
      syncState: () => ({ last: this.sync.service.last, nextAt: this.loop('sync')?.nextRunAt, busy: this.sync.service.busy }),
    };
  }

  /** Adds a feature's lifecycle: started after the listeners are up, stopped (in reverse) before they close. */
  addService(s: Service): void {
    this.services.push(s);
  }

  /** Adds fields to `grove status` (a feature's own figures). */
  addStatus(source: StatusSource): void {
    this.statusSources.push(source);
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
    return cellStatus({
      id: this.id,
      name: this.config.name,
      apiUrl: () => this.apiUrl,
      routes: () => this.routes(),
      peerCount: () => this.peers.count(),
      totals: () => objectTotals(this.home.db),
      atRisk: () => atRiskNow(this.home.db, this.id).count,
      extra: this.statusSources,
    });
  }

  async start(): Promise<void> {
    if (this.state !== 'created') throw new GroveError('CONFLICT', `cannot start a cell that is ${this.state}`);
    this.state = 'starting';
    const started: Service[] = [];
    try {
      if (this.opts.control !== false) {
        this.controlServer = await listenControl(this.home.paths.control, this.control, { log: this.log, home: this.home.paths.root, pidPath: this.home.paths.pid });
      }
      // This process now holds the home (or runs without a control socket, as in tests).
      this.records.sweep();
      await sweepStaleTemp(this.home.objects, this.clock(), this.log);
      await this.listen();
      if (this.controlServer) this.pid.write();
      for (const s of this.services) {
        await s.start?.();
        started.push(s);
      }
      this.state = 'running';
      for (const l of this.loops.values()) l.start();
      this.log.info({ id: this.id, api: this.listenUrl, routes: this.routes() }, 'cell started');
    } catch (e) {
      // Undo what did start (in reverse), let background work end, then close everything.
      this.state = 'stopping';
      this.stopping.abort();
      for (const s of started.reverse()) {
        try {
          await s.stop?.();
        } catch (err) {
          this.log.error({ err }, `stopping a service failed: ${describeError(err)}`);
        }
      }
      await Promise.all([...this.background]);
      await this.teardown();
      throw e;
    }
  }

  private async listen(): Promise<void> {
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
    this.listenUrl = `https://${shown.includes(':') ? `[${shown}]` : shown}:${addr.port}`;
  }

  /**
   * Aborts every background operation (loops, one-off tasks, their peer calls), waits for
   * them, stops the features, stops accepting connections and lets in-flight requests
   * finish, writes the records, closes the database. Safe to call more than once and on a
   * cell that never started.
   */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    const wasStarted = this.state !== 'created';
    this.state = 'stopping';
    if (wasStarted) this.log.info('cell stopping');
    this.stopping.abort();
    await Promise.all([...this.loops.values()].map((l) => l.stop()));
    await Promise.all([...this.background]);
    if (wasStarted) {
      for (const s of [...this.services].reverse()) {
        try {
          await s.stop?.();
        } catch (e) {
          this.log.error({ err: e }, `stopping a service failed: ${describeError(e)}`);
        }
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
    this.pid.remove();
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
}

/** Opens the home and builds its cell (not yet listening: call start()). */
export async function createCell(opts: CellOptions): Promise<Cell> {
  const home = openHome(opts.home, { checkDb: !!opts.checkDb });
  try {
    if (opts.setAsideObjects && catalogIsEmpty(home.db)) await setAsideObjects(home, (opts.clock ?? Date.now)());
    else await assertCatalogMatchesObjects(home);
    const { home: _root, ...rest } = opts;
    return new Cell(home, rest);
  } catch (e) {
    home.close();
    throw e;
  }
}
