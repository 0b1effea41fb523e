import { bestRoute, isBenchDue, routeScore, type RouteStats } from './route-score.js';
import type { PeerContext } from './context.js';
import type { PeerRecord } from './registry.js';
import type { PeerHealth, RouteProbeResult, RouteSpeed } from './records.js';
import type { CallOptions, PeerResponse } from '../net/client.js';
import type { Readable } from 'node:stream';
import { GroveError, describeError, notFound } from '../errors.js';

// Probes and benchmarks (seed "Sync Flow" steps 2-3, docs/design.md §4), and calling a peer by its
// best route. The sync round calls these; the daemon's probe loop keeps `online` current.

/** Size of a benchmark transfer (seed: "real 256KB transfers"). */
export const BENCH_BYTES = 256 * 1024;

function peerOf(ctx: PeerContext, peer: PeerRecord | string): PeerRecord {
  if (typeof peer !== 'string') return peer;
  const p = ctx.peers.get(peer);
  if (!p) throw notFound(`no peer with ID ${peer}`);
  return p;
}

/** Probes every route of a peer (GET /api/health, signed) and records latency and up/down. */
export async function probePeer(ctx: PeerContext, peer: PeerRecord | string, opts: { signal?: AbortSignal } = {}): Promise<PeerHealth> {
  const p = peerOf(ctx, peer);
  const results = await Promise.all(p.routes.map((r) => probeRoute(ctx, p.id, r.url, opts.signal)));
  const health = ctx.records.recordProbe(p.id, results, ctx.clock());
  ctx.events.emit('probe', p.id, health);
  return health;
}

async function probeRoute(ctx: PeerContext, peerId: string, url: string, signal?: AbortSignal): Promise<RouteProbeResult> {
  try {
    const r = await ctx.client.call<{ ok?: unknown; id?: unknown }>(url, peerId, 'GET', '/api/health', { timeoutMs: ctx.timeouts.probeMs, signal, maxBytes: 4096 });
    if (r.data?.ok !== true || r.data.id !== peerId) return { url, reachable: false, error: 'unexpected health answer' };
    return { url, reachable: true, latency_ms: r.latencyMs };
  } catch (e) {
    if (signal?.aborted) throw e;
    return { url, reachable: false, error: describeError(e) };
  }
}

/** Probes every peer (concurrently); a failure of one never stops the others. */
export async function probeAll(ctx: PeerContext, opts: { signal?: AbortSignal } = {}): Promise<Map<string, PeerHealth>> {
  const out = new Map<string, PeerHealth>();
  await Promise.all(ctx.peers.list().map(async (p) => {
    try {
      out.set(p.id, await probePeer(ctx, p, opts));
    } catch (e) {
      if (opts.signal?.aborted) return;
      ctx.log.warn({ err: e, peer: p.id }, 'probe failed');
    }
  }));
  return out;
}

/**
 * Benchmarks the peer's routes that are due (never benchmarked, or older than
 * config bench.interval_s), skipping routes the latest probe found down. Sequential, so
 * transfers do not compete for the same link. Returns the new measurements by URL.
 */
export async function benchmarkDueRoutes(ctx: PeerContext, peer: PeerRecord | string, opts: { signal?: AbortSignal; force?: boolean } = {}): Promise<Map<string, RouteSpeed>> {
  const p = peerOf(ctx, peer);
  const intervalMs = ctx.benchIntervalMs;
  const out = new Map<string, RouteSpeed>();
  for (const r of ctx.records.routeStats(p)) {
    opts.signal?.throwIfAborted();
    const probed = ctx.records.peerHealth(p.id)?.routes[r.url] !== undefined;
    if (probed && !r.reachable) continue;
    if (!opts.force && !isBenchDue(r.last_bench, ctx.clock(), intervalMs)) continue;
    try {
      out.set(r.url, await benchmarkRoute(ctx, p.id, r.url, opts.signal));
    } catch (e) {
      if (opts.signal?.aborted) throw e;
      ctx.log.info({ peer: p.id, route: r.url, err: describeError(e) }, 'benchmark failed');
    }
  }
  return out;
}

/** One 256 KiB transfer over one route; records and returns its throughput. */
export async function benchmarkRoute(ctx: PeerContext, peerId: string, url: string, signal?: AbortSignal): Promise<RouteSpeed> {
  const started = performance.now();
  const r = await ctx.client.call<Buffer>(url, peerId, 'GET', '/api/bench', { timeoutMs: ctx.timeouts.benchMs, signal, maxBytes: BENCH_BYTES });
  const ms = performance.now() - started;
  if (!Buffer.isBuffer(r.data) || r.data.length !== BENCH_BYTES) throw new GroveError('PEER_ERROR', 'benchmark answer has the wrong size');
  return ctx.records.recordBench(peerId, url, { bytes: r.data.length, ms }, ctx.clock());
}

export interface RouteView {
  url: string;
  kind: string;
  latency_ms: number | null;
  throughput_MBps: number | null;
  score: number | null;
  last_seen: number | null;
  /** Why the latest probe failed (e.g. WRONG_IDENTITY: the route leads to another cell). */
  error: string | null;
}

export interface PeerView {
  id: string;
  name: string;
  preferred: boolean;
  online: boolean;
  /** ok / checks over every probe so far; null before the first probe. */
  uptime: number | null;
  best_route: string | null;
  routes: RouteView[];
}

/** A peer as `grove peers` shows it, from the registry and the recorded measurements. */
export function peerView(ctx: PeerContext, p: PeerRecord): PeerView {
  const h = ctx.records.peerHealth(p.id);
  const stats = ctx.records.routeStats(p);
  const best = bestRoute(stats);
  return {
    id: p.id,
    name: p.name,
    preferred: p.preferred,
    online: h?.online ?? false,
    uptime: h && h.checks > 0 ? Math.round((h.ok / h.checks) * 1000) / 1000 : null,
    best_route: best?.url ?? null,
    routes: stats.map((s) => ({
      url: s.url,
      kind: s.kind,
      latency_ms: s.latency_ms ?? null,
      throughput_MBps: s.throughput_MBps ?? null,
      score: s.reachable ? (routeScore(s) ?? null) : null,
      last_seen: s.last_seen ?? null,
      error: s.reachable ? null : (h?.routes[s.url]?.error ?? null),
    })),
  };
}

/**
 * The order in which to try a peer's routes: best_route() first, then the other reachable
 * routes by score, then routes never probed, then routes the latest probe found down.
 */
export function routeOrder(stats: readonly RouteStats[]): RouteStats[] {
  const rank = (s: RouteStats) => (s.reachable && routeScore(s) !== undefined ? 0 : s.latency_ms === undefined && !s.reachable ? 1 : 2);
  const best = bestRoute(stats);
  return [...stats].sort((a, b) => {
    if (a === best) return -1;
    if (b === best) return 1;
    const ra = rank(a);
    const rb = rank(b);
    if (ra !== rb) return ra - rb;
    const relayed = Number(a.kind === 'relay') - Number(b.kind === 'relay');
    if (relayed !== 0) return relayed;
    return (routeScore(a) ?? 0) - (routeScore(b) ?? 0);
  });
}

/**
 * Errors after which another route may work: no connection, someone else answered (another
 * cell's certificate on a reused address), or a relay refused the stream.
 */
function isRouteFailure(e: unknown): boolean {
  if (!(e instanceof GroveError)) return false;
  if (e.code === 'UNREACHABLE' || e.code === 'WRONG_IDENTITY' || e.code === 'RELAY_REFUSED') return true;
  return e.code === 'PEER_ERROR' && e.detail?.status === undefined;
}

async function overRoutes<T>(ctx: PeerContext, peerId: string, fn: (url: string) => Promise<T>): Promise<T & { route: string }> {
  const p = peerOf(ctx, peerId);
  if (!p.routes.length) throw new GroveError('UNREACHABLE', `peer ${p.name} has no routes (add one with \`grove route add\`)`);
  let last: unknown;
  for (const r of routeOrder(ctx.records.routeStats(p))) {
    try {
      return { ...(await fn(r.url)), route: r.url };
    } catch (e) {
      if (!isRouteFailure(e)) throw e;
      last = e;
    }
  }
  throw new GroveError('UNREACHABLE', `peer ${p.name} is unreachable on every route (${describeError(last)})`, { peer: p.id });
}

/**
 * A signed call to a peer over its best route, falling over to the next route when one
 * cannot be reached. A peer's refusal (4xx/5xx) is not retried elsewhere.
 */
export function callPeer<T = unknown>(ctx: PeerContext, peerId: string, method: string, path: string, opts: CallOptions = {}): Promise<PeerResponse<T> & { route: string }> {
  if (opts.body !== undefined && !Buffer.isBuffer(opts.body)) {
    // A stream can be sent only once: no fail-over.
    return oneRoute(ctx, peerId, (url) => ctx.client.call<T>(url, peerId, method, path, opts));
  }
  return overRoutes(ctx, peerId, (url) => ctx.client.call<T>(url, peerId, method, path, opts));
}

/** A signed streamed download from a peer over its best route (see PeerClient.download). */
export function downloadFromPeer<R>(ctx: PeerContext, peerId: string, path: string, sink: (body: Readable, expectedSha256: string) => Promise<R>, opts: CallOptions = {}): Promise<{ result: R; latencyMs: number; route: string }> {
  return overRoutes(ctx, peerId, (url) => ctx.client.download(url, peerId, path, sink, opts));
}

async function oneRoute<T>(ctx: PeerContext, peerId: string, fn: (url: string) => Promise<T>): Promise<T & { route: string }> {
  const p = peerOf(ctx, peerId);
  const first = routeOrder(ctx.records.routeStats(p))[0];
  if (!first) throw new GroveError('UNREACHABLE', `peer ${p.name} has no routes (add one with \`grove route add\`)`);
  return { ...(await fn(first.url)), route: first.url };
}
