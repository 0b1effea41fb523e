import type { ObjectStore } from '../store/objects.js';
import { getObject } from '../store/catalog.js';
import { ERROR_CODES, GroveError, type ErrorCode } from '../errors.js';
import type { BatchResult } from '../formats/batch.js';
import { confirmPlacements, holdersOf } from './placements.js';
import { BATCH_POLICY, groupPushes, type PushItem, type PushUnit } from './batches.js';
import { acceptsBatches, pushObject, pushBatch, mapLimit, type Route } from './transfer.js';
import type { RoundSummary, SyncEnv } from './round.js';

// Step 4c of the sync round, the pushes of a placement plan (docs/design.md §4): small objects
// go to each holder in batches (`POST /api/objects/batch`), big ones alone
// (`PUT /api/objects/{hash}`). A copy is recorded only from the holder's own answer: its 200
// to the PUT, or its per-object result in the batch answer.

/**
 * Single uploads in flight during a round: enough to overlap one object's hashing and fsync
 * at the holder with the next transfers (bench:sync: 6 was no faster than 4; memory ≈ 4 MiB
 * each).
 */
export const PUSH_CONCURRENCY = 4;
/**
 * Batch uploads (and batch fetches) in flight during a round, besides the single ones. Each
 * holds a few small objects in memory at both ends; a holder takes up to 8 batches at once
 * from one peer. Measured with bench:sync, 1 000 × 64 KiB, since the holder's durable commit
 * left its main thread: 4 in flight give the round time of 8 (3.28-3.68 s against
 * 3.38-3.61 s) and keep the receiving cell's peak RSS at 111-124 MB instead of 129-137 MB.
 */
export const BATCH_CONCURRENCY = 4;

/** How long what a holder said about batch uploads (it takes them, or 404) is believed. */
export const BATCH_SUPPORT_TTL_MS = 60 * 60 * 1000;

/** Per holder: whether it takes batch uploads, and when that was found out. */
export type BatchSupport = Map<string, { ok: boolean; at: number }>;

export interface PushContext {
  env: SyncEnv;
  summary: RoundSummary;
  /** Reachable peers' best routes. */
  routes: ReadonlyMap<string, Route>;
  /** Peers that refused for lack of room or could not be reached: nothing more goes there this round. */
  refusing: Set<string>;
  /** Peers whose copies no longer count (offline past the grace period): a new copy heals. */
  stale: ReadonlySet<string>;
  fail: (step: string, peer: string | undefined, e: unknown) => void;
  /** Told of every confirmed placement (the round counts what is no longer at risk). */
  onPlaced?: (hashes: readonly string[], peer: string) => void;
  signal?: AbortSignal;
}

/** Carries out the plan's pushes. Returns how many objects were healed (a stale holder replaced). */
export async function pushPlanned(c: PushContext, pushes: readonly { hash: string; peer: string }[]): Promise<number> {
  const { env, summary: s, refusing } = c;
  // Looked up per push (the plan bounds how many), never the whole catalog.
  const infoOf = (hash: string) => {
    const o = getObject(env.db, hash);
    return { kind: o?.kind ?? 'chunk', size: o?.size ?? 0 };
  };
  const healed = new Set<string>();
  const placed = (hashes: readonly string[], peer: string) => {
    env.db.transaction(() => confirmPlacements(env.db, hashes, peer, env.clock(), true))();
    s.pushed += hashes.length;
    c.onPlaced?.(hashes, peer);
    if (!c.stale.size) return;
    for (const hash of hashes) if (holdersOf(env.db, hash).some((h) => c.stale.has(h.peer))) healed.add(hash);
  };
  const refused = (peer: string, e: unknown) => {
    if (e instanceof GroveError && (e.detail?.status === 507 || e.code === 'UNREACHABLE')) refusing.add(peer);
    if (e instanceof GroveError && e.code === 'CORRUPT' && typeof e.detail?.hash === 'string') env.onCorrupt?.(e.detail.hash);
    c.fail('push', peer, e);
  };
  const items: PushItem[] = pushes.map((p) => ({ ...p, ...infoOf(p.hash) }));
  const batching = await batchingPeers(c, items, refused);
  const units = groupPushes(items, (peer) => batching.has(peer));

  const single = async (u: PushUnit) => {
    if (u.type !== 'single' || refusing.has(u.peer)) return;
    try {
      const sent = await pushObject(env.client, c.routes.get(u.peer)!, env.objects, u.item.hash, u.item.kind, c.signal);
      s.bytes_sent += sent; // not `+= await`: that would read the total before the await and lose updates
      placed([u.item.hash], u.peer);
    } catch (e) {
      refused(u.peer, e);
    }
  };
  const batch = async (u: PushUnit) => {
    if (u.type !== 'batch' || refusing.has(u.peer)) return;
    try {
      const out = await pushBatch(env.client, c.routes.get(u.peer)!, env.objects, u.items, c.signal);
      s.bytes_sent += out.bytesSent;
      placed(out.results.filter((r) => r.stored).map((r) => r.hash), u.peer);
      for (const x of out.unreadable) c.fail('push', u.peer, x.error);
      for (const r of out.results) if (!r.stored) refused(u.peer, await batchRefusal(env.objects, r));
    } catch (e) {
      // It took batches a moment ago (an older build came back?): single uploads from the next round.
      if (e instanceof GroveError && e.code === 'PEER_ERROR' && e.detail?.status === 404) env.batchSupport?.set(u.peer, { ok: false, at: env.clock() });
      refused(u.peer, e);
    }
  };
  await Promise.all([
    mapLimit(units.filter((u) => u.type === 'batch'), BATCH_CONCURRENCY, batch),
    mapLimit(units.filter((u) => u.type === 'single'), env.concurrency ?? PUSH_CONCURRENCY, single),
  ]);
  return healed.size;
}

/**
 * The peers that get batch uploads this round: those with small objects to receive that take
 * batches, as remembered for BATCH_SUPPORT_TTL_MS or asked now with an empty batch. An older
 * cell (404) gets single uploads. A peer that cannot be asked is refused like a failed push.
 */
async function batchingPeers(c: PushContext, items: readonly PushItem[], refused: (peer: string, e: unknown) => void): Promise<Set<string>> {
  const { env } = c;
  const support: BatchSupport = env.batchSupport ?? new Map();
  const peers = [...new Set(items.filter((i) => i.size <= BATCH_POLICY.maxObjectBytes).map((i) => i.peer))].filter((p) => c.routes.has(p));
  const out = new Set<string>();
  await mapLimit(peers, 4, async (peer) => {
    const known = support.get(peer);
    if (known && env.clock() - known.at < BATCH_SUPPORT_TTL_MS) {
      if (known.ok) out.add(peer);
      return;
    }
    try {
      const ok = await acceptsBatches(env.client, c.routes.get(peer)!, c.signal);
      support.set(peer, { ok, at: env.clock() });
      if (ok) out.add(peer);
      else env.log.info({ peer }, 'holder takes no batch uploads (an older cell); sending objects one by one');
    } catch (e) {
      refused(peer, e);
    }
  });
  return out;
}

/**
 * The error a holder's refusal of one object in a batch stands for, shaped like the refusal
 * of a single upload (PEER_ERROR with the status and code), so the round treats both alike. A
 * refusal because the bytes do not match their hash means our copy is corrupt: CORRUPT.
 */
async function batchRefusal(objects: ObjectStore, r: Extract<BatchResult, { stored: false }>): Promise<GroveError> {
  if (r.error === 'BAD_INPUT' && (await objects.check(r.hash).catch(() => 'ok')) === 'corrupt') {
    return new GroveError('CORRUPT', `local object ${r.hash} is corrupt`, { hash: r.hash });
  }
  const status = ERROR_CODES[r.error as ErrorCode] ?? 500;
  return new GroveError('PEER_ERROR', `peer refused ${r.hash.slice(0, 12)}: ${status} ${r.error} ${r.message}`.trim(), { status, code: r.error });
}
