import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeFileAtomic, TMP_PREFIX } from '../home/atomic.js';
import type { RouteStats } from './route-score.js';
import type { PeerRecord } from './registry.js';

// peer_health.json and peer_speeds.json (docs/design.md §1, §4): what probes and benchmarks measured.
// Held in memory, written through atomically (one write in flight, coalescing updates).
// Read defensively: a file torn or invalid after a crash is treated as empty (with a warning),
// a single invalid entry is dropped; temp files left by an interrupted write are ignored (and
// removed by the running cell).

export interface RouteHealth {
  /** Result of the latest probe of this route. */
  reachable: boolean;
  /** Round-trip time of the latest successful probe. */
  latency_ms: number | null;
  last_check: number;
  last_ok: number | null;
  checks: number;
  ok: number;
  /** One-line reason of the latest failure. */
  error?: string;
}

export interface PeerHealth {
  /** First and latest probe of the peer (ms timestamps). */
  first_seen: number;
  last_seen: number;
  /** Latest probe in which some route answered. */
  last_ok: number | null;
  /** Probes of the peer, and how many found it online: uptime = ok / checks. */
  checks: number;
  ok: number;
  online: boolean;
  routes: Record<string, RouteHealth>;
}

export interface RouteSpeed {
  throughput_MBps: number;
  bytes: number;
  ms: number;
  /** When the benchmark ran (ms timestamp). */
  at: number;
  runs: number;
}

export interface HealthFile {
  version: 1;
  peers: Record<string, PeerHealth>;
}

export interface SpeedFile {
  version: 1;
  peers: Record<string, Record<string, RouteSpeed>>;
}

export interface RouteProbeResult {
  url: string;
  reachable: boolean;
  latency_ms?: number;
  error?: string;
}

type Warn = (msg: string, detail?: Record<string, unknown>) => void;

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isNumOrNull = (v: unknown): v is number | null => v === null || isNum(v);

function parseRouteHealth(v: unknown): RouteHealth | undefined {
  if (!isObj(v)) return undefined;
  if (typeof v.reachable !== 'boolean' || !isNumOrNull(v.latency_ms) || !isNum(v.last_check) || !isNumOrNull(v.last_ok)) return undefined;
  if (!isNum(v.checks) || !isNum(v.ok) || v.ok > v.checks) return undefined;
  const out: RouteHealth = { reachable: v.reachable, latency_ms: v.latency_ms, last_check: v.last_check, last_ok: v.last_ok, checks: v.checks, ok: v.ok };
  if (typeof v.error === 'string') out.error = v.error.slice(0, 300);
  return out;
}

function parsePeerHealth(v: unknown): PeerHealth | undefined {
  if (!isObj(v)) return undefined;
  if (!isNum(v.first_seen) || !isNum(v.last_seen) || !isNumOrNull(v.last_ok) || !isNum(v.checks) || !isNum(v.ok)) return undefined;
  if (v.ok > v.checks || typeof v.online !== 'boolean' || !isObj(v.routes)) return undefined;
  const routes: Record<string, RouteHealth> = {};
  for (const [url, r] of Object.entries(v.routes)) {
    const parsed = parseRouteHealth(r);
    if (parsed) routes[url] = parsed;
  }
  return { first_seen: v.first_seen, last_seen: v.last_seen, last_ok: v.last_ok, checks: v.checks, ok: v.ok, online: v.online, routes };
}

function parseRouteSpeed(v: unknown): RouteSpeed | undefined {
  if (!isObj(v)) return undefined;
  if (!isNum(v.throughput_MBps) || !isNum(v.bytes) || !isNum(v.ms) || !isNum(v.at) || !isNum(v.runs)) return undefined;
  return { throughput_MBps: v.throughput_MBps, bytes: v.bytes, ms: v.ms, at: v.at, runs: v.runs };
}

/** Parses a health file; returns undefined when the file as a whole is unusable. */
export function parseHealthFile(v: unknown): HealthFile | undefined {
  if (!isObj(v)) return undefined;
  if (Object.keys(v).length === 0) return { version: 1, peers: {} }; // as written by `grove init`
  if (v.version !== 1 || !isObj(v.peers)) return undefined;
  const peers: Record<string, PeerHealth> = {};
  for (const [id, p] of Object.entries(v.peers)) {
    const parsed = parsePeerHealth(p);
    if (parsed) peers[id] = parsed;
  }
  return { version: 1, peers };
}

export function parseSpeedFile(v: unknown): SpeedFile | undefined {
  if (!isObj(v)) return undefined;
  if (Object.keys(v).length === 0) return { version: 1, peers: {} };
  if (v.version !== 1 || !isObj(v.peers)) return undefined;
  const peers: Record<string, Record<string, RouteSpeed>> = {};
  for (const [id, routes] of Object.entries(v.peers)) {
    if (!isObj(routes)) continue;
    const out: Record<string, RouteSpeed> = {};
    for (const [url, s] of Object.entries(routes)) {
      const parsed = parseRouteSpeed(s);
      if (parsed) out[url] = parsed;
    }
    peers[id] = out;
  }
  return { version: 1, peers };
}

/** One JSON record file: loaded once, then written through atomically. */
export class JsonRecordFile<T> {
  data: T;
  private writing: Promise<void> | null = null;
  private dirty = false;
  /** The latest write failure (cleared by a successful write). */
  lastError: unknown = undefined;

  constructor(readonly path: string, parse: (v: unknown) => T | undefined, empty: () => T, private readonly warn: Warn) {
    this.data = load(path, parse, warn) ?? empty();
  }

  /**
   * Removes temp files an interrupted write left behind. Only the single writer may do this
   * (the running cell, once it holds the home): another process's write may be in flight.
   */
  sweep(): void {
    removeTempLeftovers(this.path, this.warn);
  }

  /** Schedules a write of the current data; updates made while a write runs are coalesced. */
  save(): void {
    this.dirty = true;
    if (!this.writing) this.writing = this.drain();
  }

  /** Resolves once everything saved so far is on disk. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.dirty) {
        this.dirty = false;
        try {
          await writeFileAtomic(this.path, JSON.stringify(this.data, null, 1) + '\n', 0o644);
          this.lastError = undefined;
        } catch (e) {
          this.lastError = e;
          this.warn(`could not write ${basename(this.path)}`, { err: e });
        }
      }
    } finally {
      this.writing = null;
    }
  }
}

function load<T>(path: string, parse: (v: unknown) => T | undefined, warn: Warn): T | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') warn(`cannot read ${basename(path)}; starting empty`, { err: e });
    return undefined;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    warn(`${basename(path)} is not valid JSON (torn by a crash?); starting empty`);
    return undefined;
  }
  const parsed = parse(raw);
  if (!parsed) warn(`${basename(path)} has an unknown layout; starting empty`);
  return parsed;
}

/** Removes `.tmp-NAME.*` files an interrupted atomic write left beside `path`. */
function removeTempLeftovers(path: string, warn: Warn): void {
  const prefix = `${TMP_PREFIX}${basename(path)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const n of names) {
    if (!n.startsWith(prefix)) continue;
    try {
      unlinkSync(join(dirname(path), n));
    } catch (e) {
      warn(`cannot remove leftover ${n}`, { err: e });
    }
  }
}

/** The cell's probe and benchmark records. */
export class PeerRecords {
  readonly health: JsonRecordFile<HealthFile>;
  readonly speeds: JsonRecordFile<SpeedFile>;

  constructor(paths: { peerHealth: string; peerSpeeds: string }, warn: Warn) {
    this.health = new JsonRecordFile(paths.peerHealth, parseHealthFile, () => ({ version: 1, peers: {} }), warn);
    this.speeds = new JsonRecordFile(paths.peerSpeeds, parseSpeedFile, () => ({ version: 1, peers: {} }), warn);
  }

  peerHealth(peerId: string): PeerHealth | undefined {
    return this.health.data.peers[peerId];
  }

  routeSpeed(peerId: string, url: string): RouteSpeed | undefined {
    return this.speeds.data.peers[peerId]?.[url];
  }

  /** Records one probe of a peer (all the routes tried). The peer is online if any answered. */
  recordProbe(peerId: string, results: RouteProbeResult[], now: number): PeerHealth {
    const prev = this.health.data.peers[peerId];
    const online = results.some((r) => r.reachable);
    const p: PeerHealth = prev ?? { first_seen: now, last_seen: now, last_ok: null, checks: 0, ok: 0, online, routes: {} };
    p.last_seen = now;
    p.checks += 1;
    if (online) {
      p.ok += 1;
      p.last_ok = now;
    }
    p.online = online;
    for (const r of results) {
      const rh: RouteHealth = p.routes[r.url] ?? { reachable: false, latency_ms: null, last_check: now, last_ok: null, checks: 0, ok: 0 };
      rh.reachable = r.reachable;
      rh.last_check = now;
      rh.checks += 1;
      if (r.reachable) {
        rh.ok += 1;
        rh.last_ok = now;
        rh.latency_ms = r.latency_ms !== undefined ? round(r.latency_ms, 3) : rh.latency_ms;
        delete rh.error;
      } else if (r.error) {
        rh.error = r.error.slice(0, 300);
      }
      p.routes[r.url] = rh;
    }
    this.health.data.peers[peerId] = p;
    this.health.save();
    return p;
  }

  recordBench(peerId: string, url: string, r: { bytes: number; ms: number }, now: number): RouteSpeed {
    const prev = this.speeds.data.peers[peerId]?.[url];
    const seconds = Math.max(r.ms, 0.001) / 1000;
    const s: RouteSpeed = { throughput_MBps: round(r.bytes / 1e6 / seconds, 3), bytes: r.bytes, ms: round(r.ms, 3), at: now, runs: (prev?.runs ?? 0) + 1 };
    (this.speeds.data.peers[peerId] ??= {})[url] = s;
    this.speeds.save();
    return s;
  }

  /** Forgets a peer (after it is removed from the registry). */
  forget(peerId: string): void {
    if (peerId in this.health.data.peers) {
      delete this.health.data.peers[peerId];
      this.health.save();
    }
    if (peerId in this.speeds.data.peers) {
      delete this.speeds.data.peers[peerId];
      this.speeds.save();
    }
  }

  /** What bestRoute() needs for each of the peer's registered routes. */
  routeStats(peer: PeerRecord): RouteStats[] {
    const h = this.peerHealth(peer.id);
    return peer.routes.map((r) => {
      const rh = h?.routes[r.url];
      const sp = this.routeSpeed(peer.id, r.url);
      const s: RouteStats = { url: r.url, kind: r.kind, reachable: rh?.reachable ?? false };
      if (rh?.latency_ms !== undefined && rh.latency_ms !== null) s.latency_ms = rh.latency_ms;
      if (sp) {
        s.throughput_MBps = sp.throughput_MBps;
        s.last_bench = sp.at;
      }
      if (rh?.last_ok !== undefined && rh.last_ok !== null) s.last_seen = rh.last_ok;
      return s;
    });
  }

  async flush(): Promise<void> {
    await Promise.all([this.health.flush(), this.speeds.flush()]);
  }

  /** See JsonRecordFile.sweep. */
  sweep(): void {
    this.health.sweep();
    this.speeds.sweep();
  }
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
