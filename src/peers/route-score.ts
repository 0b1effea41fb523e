// Route selection policy (seed "Route Selection", docs/design.md §4). Pure: no I/O, no clock reads;
// the caller passes the measurements and the current time.

export type RouteKind = 'direct' | 'mdns' | 'relay';

/** What we know about one route to a peer, as recorded by probes and benchmarks. */
export interface RouteStats {
  url: string;
  kind: RouteKind;
  /** Result of the latest probe. */
  reachable: boolean;
  /** Round-trip latency of the latest probe; absent until the route has been probed. */
  latency_ms?: number;
  /** Throughput of the latest 256 KiB benchmark; absent until the route has been benchmarked. */
  throughput_MBps?: number;
  /** ms timestamp of the last successful probe. */
  last_seen?: number;
  /** ms timestamp of the last benchmark. */
  last_bench?: number;
}

/** Seed: "effective_score = latency - (throughput_MB/s × 0.1)". */
export const THROUGHPUT_WEIGHT = 0.1;

/** Seed: routes are "benchmarked every 6 hours". */
export const BENCH_INTERVAL_MS = 6 * 60 * 60 * 1000;

/** Tie-break between equal scores: a direct path needs no third party, a relay always does. */
const KIND_ORDER: Record<RouteKind, number> = { direct: 0, mdns: 1, relay: 2 };

const isMeasure = (v: number | undefined): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/**
 * effective_score = latency_ms − throughput_MBps × 0.1 (seed "Route Selection"); lower is better.
 * A route not yet benchmarked scores on latency alone; a route never probed (no latency) has
 * no score. Reachability is not considered here: see bestRoute.
 */
export function routeScore(r: RouteStats): number | undefined {
  if (!isMeasure(r.latency_ms)) return undefined;
  const bonus = isMeasure(r.throughput_MBps) ? r.throughput_MBps * THROUGHPUT_WEIGHT : 0;
  return r.latency_ms - bonus;
}

/**
 * Total order over candidate routes: a direct (or mDNS) route before any relay route (a relay
 * is the fallback: it costs a third party's bandwidth and adds a hop), then score, then kind
 * (direct < mdns < relay), then url.
 */
export function compareCandidates(a: { r: RouteStats; score: number }, b: { r: RouteStats; score: number }): number {
  const relayed = Number(a.r.kind === 'relay') - Number(b.r.kind === 'relay');
  if (relayed !== 0) return relayed;
  if (a.score !== b.score) return a.score - b.score;
  const kind = (KIND_ORDER[a.r.kind] ?? 3) - (KIND_ORDER[b.r.kind] ?? 3);
  if (kind !== 0) return kind;
  return a.r.url < b.r.url ? -1 : a.r.url > b.r.url ? 1 : 0;
}

/**
 * best_route() (seed, docs/design.md §4): the reachable, probed route with the lowest effective score.
 * Unreachable or never-probed routes are not candidates; undefined when there is none.
 * Deterministic: the same routes in any order give the same answer.
 */
export function bestRoute(routes: readonly RouteStats[]): RouteStats | undefined {
  let best: { r: RouteStats; score: number } | undefined;
  for (const r of routes) {
    if (!r.reachable) continue;
    const score = routeScore(r);
    if (score === undefined) continue;
    const cand = { r, score };
    if (!best || compareCandidates(cand, best) < 0) best = cand;
  }
  return best?.r;
}

/** A peer's score for placement ranking: the effective score of its best route, if any. */
export function peerScore(routes: readonly RouteStats[]): number | undefined {
  const best = bestRoute(routes);
  return best ? routeScore(best) : undefined;
}

/**
 * Whether a route is due for a benchmark (seed: "Benchmarked every 6 hours"): on first contact
 * (never benchmarked), once `intervalMs` has passed, or when the record lies in the future
 * (the clock stepped back), so a clock change cannot silence benchmarks for hours.
 */
export function isBenchDue(lastBenchAt: number | undefined, now: number, intervalMs: number = BENCH_INTERVAL_MS): boolean {
  if (lastBenchAt === undefined || !Number.isFinite(lastBenchAt)) return true;
  if (lastBenchAt > now) return true;
  return now - lastBenchAt >= intervalMs;
}
