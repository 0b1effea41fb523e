import type { ObjectStore } from '../store/objects.js';
import { getObject } from '../store/catalog.js';
import { ERROR_CODES, GroveError, type ErrorCode } from '../errors.js';
import type { BatchResult } from '../formats/batch.js';
import { confirmPlacements, holdersOf } from './placements.js';
import { groupPushes, type PushUnit } from './batches.js';
import { pushObject, pushBatch, mapLimit, type Route } from './transfer.js';
import type { RoundSummary, SyncEnv } from './round.js';

// Step 4c of the sync round, the pushes of a placement plan (docs/design.md §4): small objects
// go to each holder in batches (`POST /api/objects/batch`), big ones alone
// (`PUT /api/objects/{hash}`). A copy is recorded only from the holder's own answer: its 200
// to the PUT, or its per-object result in the batch answer.

/**
 * Uploads in flight during a round (batches or single objects): enough to overlap one
 * request's hashing and fsync at the holder with the next transfers (bench:sync: 6 was no
 * faster than 4; memory ≈ 4 MiB each).
 */
export const PUSH_CONCURRENCY = 4;

/** After a holder answered 404 to a batch (an older cell), how long it gets single uploads only. */
export const NO_BATCH_RETRY_MS = 60 * 60 * 1000;

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
  const noBatch = env.noBatch ?? new Map<string, number>();
  const batching = (peer: string) => {
    const since = noBatch.get(peer);
    return since === undefined || env.clock() - since > NO_BATCH_RETRY_MS;
  };
  const alone = (u: Extract<PushUnit, { type: 'batch' }>): PushUnit[] => u.items.map((item) => ({ type: 'single', peer: u.peer, item }));

  const units = groupPushes(pushes.map((p) => ({ ...p, ...infoOf(p.hash) })), batching);
  await mapLimit(units, env.concurrency ?? PUSH_CONCURRENCY, async (u) => {
    const route = c.routes.get(u.peer);
    if (!route || refusing.has(u.peer)) return;
    if (u.type === 'single') {
      try {
        const sent = await pushObject(env.client, route, env.objects, u.item.hash, u.item.kind, c.signal);
        s.bytes_sent += sent; // not `+= await`: that would read the total before the await and lose updates
        placed([u.item.hash], u.peer);
      } catch (e) {
        refused(u.peer, e);
      }
      return;
    }
    // Found without batches by another unit meanwhile: these go alone too (picked up below).
    if (!batching(u.peer)) return void units.push(...alone(u));
    try {
      const out = await pushBatch(env.client, route, env.objects, u.items, c.signal);
      s.bytes_sent += out.bytesSent;
      placed(out.results.filter((r) => r.stored).map((r) => r.hash), u.peer);
      for (const x of out.unreadable) c.fail('push', u.peer, x.error);
      for (const r of out.results) if (!r.stored) refused(u.peer, await batchRefusal(env.objects, r));
    } catch (e) {
      if (e instanceof GroveError && e.code === 'PEER_ERROR' && e.detail?.status === 404) {
        // A holder without the batch endpoint (an older cell): these objects go one by one,
        // and so does everything else for it for a while.
        noBatch.set(u.peer, env.clock());
        env.log.info({ peer: u.peer }, 'holder has no batch uploads; sending objects one by one');
        units.push(...alone(u));
        return;
      }
      refused(u.peer, e);
    }
  });
  return healed.size;
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
