import type { DB } from '../store/db.js';
import type { RouteKind } from './route-score.js';
import { isCellId } from '../crypto/encoding.js';
import { badInput, notFound } from '../errors.js';

// The peer registry (docs/design.md §4): paired identities in `peers`, their routes in `routes`.
// Reads go to SQLite every time, so the daemon and a CLI command on the same home agree.

export interface RouteRecord {
  url: string;
  kind: RouteKind;
  added_at: number;
}

export interface PeerRecord {
  id: string;
  name: string;
  /** Hex raw X25519 public key, from the peer's signed identity card. */
  x25519: string;
  preferred: boolean;
  paired_at: number;
  build: string | null;
  routes: RouteRecord[];
}

export interface PeerUpsert {
  id: string;
  name: string;
  x25519: string;
  build?: string | null;
}

const ROUTE_KINDS: readonly RouteKind[] = ['direct', 'mdns', 'relay'];
const MAX_ROUTES_PER_PEER = 32;
/** Shortest ID prefix accepted as a PEER argument (a few characters could match by accident). */
export const MIN_PREFIX = 4;
const CELL_ID_RE = /^[a-z2-7]{52}$/;

/**
 * A route URL in its one stored form (docs/protocol.md "Routes"): the origin of a direct
 * route, `https://host:port`, or a relay route, `relay+ws(s)://relay-host:port/<cell ID>`.
 * Every route is TLS: a legacy `http://` route means TLS on the same host and port and is
 * stored as `https://` (never plaintext). Paths (except a relay route's cell ID), queries,
 * fragments and credentials are refused rather than silently dropped.
 */
export function normalizeRouteUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw badInput(`not a URL: ${raw.slice(0, 200)}`);
  }
  if (u.username || u.password) throw badInput('route URLs must not carry credentials');
  if (u.search || u.hash) throw badInput(`a route URL has no query or fragment: ${raw.slice(0, 200)}`);
  if (u.protocol === 'relay+ws:' || u.protocol === 'relay+wss:') {
    const id = u.pathname.slice(1);
    if (!u.hostname || !isCellId(id)) throw badInput(`a relay route is relay+ws://HOST:PORT/<cell ID>: ${raw.slice(0, 200)}`);
    return `${u.protocol}//${u.host.toLowerCase()}/${id}`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw badInput(`route URLs must be https or relay+ws(s): ${raw.slice(0, 200)}`);
  if (u.pathname !== '/' && u.pathname !== '') throw badInput(`a route is a base URL without a path: ${raw.slice(0, 200)}`);
  // Upgrade: the same host and port, over TLS. An http URL without a port meant port 80.
  if (u.protocol === 'http:') return `https://${u.hostname}:${u.port || '80'}`;
  return u.origin;
}

/** The kind a route URL is: relay routes say so by their scheme. */
export function routeKindOf(url: string, declared: RouteKind = 'direct'): RouteKind {
  return url.startsWith('relay+') ? 'relay' : declared === 'relay' ? 'direct' : declared;
}

export function isRouteKind(k: unknown): k is RouteKind {
  return typeof k === 'string' && (ROUTE_KINDS as readonly string[]).includes(k);
}

interface PeerRow {
  id: string;
  name: string;
  x25519: string;
  preferred: number;
  paired_at: number;
  build: string | null;
}

export class PeerRegistry {
  private readonly knownStmt;

  constructor(private readonly db: DB, private readonly clock: () => number) {
    this.knownStmt = db.prepare('SELECT 1 FROM peers WHERE id = ?');
  }

  /** Hot path: called by the server for every signed request. */
  isKnown(id: string): boolean {
    return this.knownStmt.get(id) !== undefined;
  }

  list(): PeerRecord[] {
    const rows = this.db.prepare('SELECT * FROM peers ORDER BY name, id').all() as PeerRow[];
    return rows.map((r) => this.withRoutes(r));
  }

  get(id: string): PeerRecord | undefined {
    const row = this.db.prepare('SELECT * FROM peers WHERE id = ?').get(id) as PeerRow | undefined;
    return row ? this.withRoutes(row) : undefined;
  }

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM peers').get() as { n: number }).n;
  }

  /**
   * A PEER argument: a full cell ID, a peer's exact name, or a unique ID prefix
   * (at least MIN_PREFIX characters). Ambiguity is an error that lists the candidates.
   */
  resolve(arg: string): PeerRecord {
    const q = arg.trim();
    if (!q) throw badInput('empty peer name');
    if (CELL_ID_RE.test(q)) {
      const p = this.get(q);
      if (!p) throw notFound(`no peer with ID ${q}`);
      return p;
    }
    const byName = this.db.prepare('SELECT * FROM peers WHERE name = ?').all(q) as PeerRow[];
    if (byName.length === 1) return this.withRoutes(byName[0]!);
    if (byName.length > 1) throw badInput(`several peers are named ${q}: use an ID (${byName.map((r) => r.id.slice(0, 12)).join(', ')})`);
    const lower = q.toLowerCase();
    if (lower.length >= MIN_PREFIX && /^[a-z2-7]+$/.test(lower)) {
      const byPrefix = this.db.prepare("SELECT * FROM peers WHERE substr(id, 1, ?) = ?").all(lower.length, lower) as PeerRow[];
      if (byPrefix.length === 1) return this.withRoutes(byPrefix[0]!);
      if (byPrefix.length > 1) throw badInput(`${q} matches several peers: ${byPrefix.map((r) => `${r.name} (${r.id.slice(0, 12)})`).join(', ')}`);
    }
    throw notFound(`no peer named ${q} (see \`grove peers\`)`);
  }

  /**
   * Adds or updates a peer and adds routes it does not have yet (existing routes are kept).
   * Runs inside the caller's transaction when there is one (pairing marks the invite used in
   * the same transaction). Returns whether the peer is new.
   */
  upsert(p: PeerUpsert, routes: { url: string; kind: RouteKind }[] = []): boolean {
    if (!isCellId(p.id)) throw badInput('not a cell ID');
    if (!/^[0-9a-f]{64}$/.test(p.x25519)) throw badInput('bad x25519 key');
    const run = this.db.transaction(() => {
      const existed = this.isKnown(p.id);
      if (existed) {
        this.db.prepare('UPDATE peers SET name = ?, x25519 = ?, build = COALESCE(?, build) WHERE id = ?')
          .run(p.name, p.x25519, p.build ?? null, p.id);
      } else {
        this.db.prepare('INSERT INTO peers(id, name, x25519, preferred, paired_at, build) VALUES (?, ?, ?, 0, ?, ?)')
          .run(p.id, p.name, p.x25519, this.clock(), p.build ?? null);
      }
      for (const r of routes) this.insertRoute(p.id, r.url, r.kind);
      return !existed;
    });
    return run();
  }

  /** Adds a route; returns false if the peer already had it. */
  addRoute(peerId: string, url: string, kind: RouteKind = 'direct'): boolean {
    if (!this.isKnown(peerId)) throw notFound(`no peer with ID ${peerId}`);
    return this.db.transaction(() => this.insertRoute(peerId, url, kind))();
  }

  /** Removes a route; returns false if the peer had no such route. */
  removeRoute(peerId: string, url: string): boolean {
    const norm = normalizeRouteUrl(url);
    return this.db.prepare('DELETE FROM routes WHERE peer_id = ? AND url = ?').run(peerId, norm).changes === 1;
  }

  setPreferred(peerId: string, on: boolean): void {
    const r = this.db.prepare('UPDATE peers SET preferred = ? WHERE id = ?').run(on ? 1 : 0, peerId);
    if (r.changes !== 1) throw notFound(`no peer with ID ${peerId}`);
  }

  remove(peerId: string): boolean {
    return this.db.prepare('DELETE FROM peers WHERE id = ?').run(peerId).changes === 1;
  }

  private insertRoute(peerId: string, url: string, kind: RouteKind): boolean {
    if (!isRouteKind(kind)) throw badInput('unknown route kind');
    const norm = normalizeRouteUrl(url);
    kind = routeKindOf(norm, kind);
    const n = (this.db.prepare('SELECT COUNT(*) AS n FROM routes WHERE peer_id = ?').get(peerId) as { n: number }).n;
    const exists = this.db.prepare('SELECT 1 FROM routes WHERE peer_id = ? AND url = ?').get(peerId, norm) !== undefined;
    if (exists) return false;
    if (n >= MAX_ROUTES_PER_PEER) throw badInput(`a peer has at most ${MAX_ROUTES_PER_PEER} routes`);
    this.db.prepare('INSERT INTO routes(peer_id, url, kind, added_at) VALUES (?, ?, ?, ?)').run(peerId, norm, kind, this.clock());
    return true;
  }

  private withRoutes(r: PeerRow): PeerRecord {
    const routes = this.db.prepare('SELECT url, kind, added_at FROM routes WHERE peer_id = ? ORDER BY added_at, url').all(r.id) as RouteRecord[];
    return { id: r.id, name: r.name, x25519: r.x25519, preferred: r.preferred === 1, paired_at: r.paired_at, build: r.build, routes };
  }
}
