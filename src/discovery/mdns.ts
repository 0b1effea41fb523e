import { networkInterfaces } from 'node:os';
import makeMdns from 'multicast-dns';
import type { Logger } from 'pino';
import type { LoopSpec } from '../daemon/loop.js';
import type { RouteKind } from '../peers/route-score.js';
import { describeError } from '../errors.js';
import { announcementRecords, asksForGrove, routeUrl, sightingsIn, type Rec, type Sighting } from './records.js';
import { Sightings, type Seen } from './nearby.js';

// mDNS discovery (docs/design.md §5 "mDNS"; docs/discovery.md): announces this cell as
// `_grove._tcp` and browses for others. It only finds addresses: an address of a PAIRED
// peer becomes a route of kind `mdns` after the signed protocol confirms the identity
// (`confirm`), and is dropped when unseen for `ttlMs`; unpaired cells are only listed as
// nearby. Nothing is paired or trusted because of mDNS.

export interface DiscoveryComponents {
  selfId: string;
  /** The peer API port actually listened on. */
  port: () => number;
  clock: () => number;
  log: Logger;
  addLoop: (spec: LoopSpec) => void;
  peers: {
    isKnown(id: string): boolean;
    get(id: string): { routes: { url: string; kind: RouteKind }[] } | undefined;
    list(): { id: string; routes: { url: string; kind: RouteKind }[] }[];
    addRoute(id: string, url: string, kind: RouteKind): boolean;
    removeRoute(id: string, url: string): boolean;
  };
  /** A signed call to `url` answered by `peerId` (e.g. GET /api/health). */
  confirm: (peerId: string, url: string, signal: AbortSignal) => Promise<boolean>;
  /** A route was added for a peer (probe it so it shows online). */
  onRoute: (peerId: string) => void;
}

export interface DiscoveryInit {
  /** Configured human name to announce (mdns.name); empty: none. */
  name: string;
  /** Query and re-announce period (mdns.interval_s). */
  intervalMs: number;
  /** A sighting or mdns route unseen this long is dropped (~90 s). */
  ttlMs?: number;
  /** UDP port (5353; tests may change it). */
  mdnsPort?: number;
}

export interface NearbyCell {
  id: string;
  name: string;
  addresses: string[];
}

type Mdns = ReturnType<typeof makeMdns>;

/** New addresses of one peer checked per interval, at most (a sighting carries up to 8). */
const MAX_CHECKS_PER_INTERVAL = 16;

export class MdnsDiscovery {
  private mdns: Mdns | undefined;
  private readonly seen: Sightings;
  /** peerId + ' ' + url → when mDNS last showed that route (confirmed ones only). */
  private readonly routeSeen = new Map<string, number>();
  private readonly tried = new Map<string, number>();
  private readonly abort = new AbortController();
  private readonly tasks = new Set<Promise<void>>();
  private readonly warned = new Set<string>();
  private lastAddresses = '';
  private lastAnswer = 0;
  /** Identity checks started per peer in this interval (a liar cannot make us call out much). */
  private readonly checks = new Map<string, number>();
  private readonly ttlMs: number;

  constructor(private readonly c: DiscoveryComponents, private readonly init: DiscoveryInit) {
    this.ttlMs = init.ttlMs ?? 90_000;
    this.seen = new Sightings(this.ttlMs);
    c.addLoop({ name: 'mdns', intervalMs: init.intervalMs, initialDelayMs: init.intervalMs, run: (s) => this.tick(s) });
  }

  start(): void {
    // Routes of kind mdns left from a previous run get one TTL to be seen again.
    const now = this.c.clock();
    for (const p of this.c.peers.list()) for (const r of p.routes) if (r.kind === 'mdns') this.routeSeen.set(`${p.id} ${r.url}`, now);
    const mdns = makeMdns({ bind: '0.0.0.0', port: this.init.mdnsPort ?? 5353, reuseAddr: true, loopback: true });
    this.mdns = mdns;
    // multicast-dns reports send failures (no multicast route: ENETUNREACH) as warnings and
    // otherwise fails silently: log each kind once, and again after it recovered.
    mdns.on('warning', (e: Error) => this.problem(e));
    mdns.on('error', (e: Error) => this.problem(e));
    mdns.on('networkInterface', () => this.announce('interfaces changed'));
    mdns.on('query', (q) => {
      // Answer queries, but at most once a second: a flood of queries must not become a
      // flood of multicast answers.
      const now = this.c.clock();
      if (!asksForGrove(q.questions ?? []) || now - this.lastAnswer < 1000) return;
      this.lastAnswer = now;
      this.announce();
    });
    mdns.on('response', (res, rinfo) => this.handleResponse([...(res.answers ?? []), ...(res.additionals ?? [])] as Rec[], rinfo.address));
    this.announce();
    this.query();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all([...this.tasks]);
    const m = this.mdns;
    this.mdns = undefined;
    if (m) await new Promise<void>((resolve) => m.destroy(() => resolve()));
  }

  /** Cells seen lately that are not paired with this one. */
  nearby(): NearbyCell[] {
    return this.seen.list(this.c.clock())
      .filter((s) => !this.c.peers.isKnown(s.id))
      .map((s: Seen) => ({ id: s.id, name: s.name, addresses: s.addresses.map((a) => routeUrl(a, s.port)) }));
  }

  /** One period: re-announce (and at once if our addresses changed), browse, expire. */
  async tick(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    this.checks.clear();
    this.expire();
    if (!this.mdns) return;
    this.announce();
    this.query();
  }

  /** Settles the identity checks started by sightings (tests wait on this). */
  async idle(): Promise<void> {
    while (this.tasks.size) await Promise.all([...this.tasks]);
  }

  private ownAddresses(): string[] {
    const out: string[] = [];
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) out.push(a.address);
    }
    return out.sort();
  }

  private announce(why?: string): void {
    const m = this.mdns;
    if (!m) return;
    const addresses = this.ownAddresses();
    const sig = addresses.join(',');
    if (why || sig !== this.lastAddresses) {
      this.c.log.info({ addresses, port: this.c.port() }, `mDNS: announcing _grove._tcp${why ? ` (${why})` : ''}`);
      this.lastAddresses = sig;
    }
    const recs = announcementRecords({ id: this.c.selfId, port: this.c.port(), name: this.init.name, addresses });
    m.respond(recs as Parameters<Mdns['respond']>[0], (err) => { if (err) this.problem(err); });
  }

  private query(): void {
    this.mdns?.query([{ name: '_grove._tcp.local', type: 'PTR' }], (err) => { if (err) this.problem(err); else this.warned.clear(); });
  }

  private problem(e: Error): void {
    const key = (e as NodeJS.ErrnoException).code ?? e.message;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    const hint = key === 'ENETUNREACH' ? ' (no multicast route: `ip route add 224.0.0.0/4 dev IF`)' : '';
    this.c.log.warn({ err: describeError(e) }, `mDNS: ${describeError(e)}${hint}; discovery on the LAN may not work`);
  }

  /** A response packet's records, from the socket (public for in-process tests). */
  handleResponse(records: Rec[], responder: string): void {
    const now = this.c.clock();
    for (const s of sightingsIn(records, responder)) {
      if (s.id === this.c.selfId) continue;
      this.seen.see(s, now);
      if (this.c.peers.isKnown(s.id)) this.routesFor(s, now);
    }
  }

  /** A paired peer was seen: keep its confirmed mdns routes fresh, confirm new addresses. */
  private routesFor(s: Sighting, now: number): void {
    const existing = new Map((this.c.peers.get(s.id)?.routes ?? []).map((r) => [r.url, r.kind]));
    for (const ip of s.addresses) {
      const url = routeUrl(ip, s.port);
      const key = `${s.id} ${url}`;
      const kind = existing.get(url);
      if (kind !== undefined) {
        if (kind === 'mdns') this.routeSeen.set(key, now);
        continue;
      }
      const last = this.tried.get(key);
      if (last !== undefined && now - last < this.init.intervalMs) continue; // in flight or just failed
      const checks = this.checks.get(s.id) ?? 0;
      if (checks >= MAX_CHECKS_PER_INTERVAL) continue;
      this.checks.set(s.id, checks + 1);
      this.tried.set(key, now);
      this.spawn(async () => {
        const ok = await this.c.confirm(s.id, url, this.abort.signal).catch(() => false);
        if (!ok || this.abort.signal.aborted || !this.c.peers.isKnown(s.id)) return;
        this.tried.delete(key);
        this.routeSeen.set(key, this.c.clock());
        if (this.c.peers.addRoute(s.id, url, 'mdns')) {
          this.c.log.info({ peer: s.id, route: url }, `mDNS: found peer ${s.id.slice(0, 8)} at ${url} (identity confirmed)`);
          this.c.onRoute(s.id);
        }
      });
    }
  }

  /** Drops mdns routes unseen for the TTL. */
  private expire(): void {
    const now = this.c.clock();
    for (const [key, at] of this.routeSeen) {
      if (now - at <= this.ttlMs) continue;
      this.routeSeen.delete(key);
      const [peerId, url] = key.split(' ') as [string, string];
      const r = this.c.peers.get(peerId)?.routes.find((x) => x.url === url);
      if (r?.kind === 'mdns' && this.c.peers.removeRoute(peerId, url)) {
        this.c.log.info({ peer: peerId, route: url }, `mDNS: route ${url} of ${peerId.slice(0, 8)} unseen for ${Math.round(this.ttlMs / 1000)} s: dropped`);
      }
    }
    for (const [key, at] of this.tried) if (now - at > this.ttlMs) this.tried.delete(key);
  }

  private spawn(fn: () => Promise<void>): void {
    const t = fn().catch((e) => this.c.log.warn({ err: e }, `mDNS: ${describeError(e)}`));
    this.tasks.add(t);
    void t.finally(() => this.tasks.delete(t));
  }
}
