import type { DB } from '../store/db.js';
import { getMeta, setMeta } from '../store/db.js';
import { DEFAULT_REPLICATION_FACTOR, PlanBuilder, livePeers, type Holder, type PagedPlan, type PlanContext, type PlacedObject } from './placement.js';

// The placement plan of this cell's own objects from placement.db: reads the catalog a page
// at a time, with the placement records of that page only, and feeds the policy
// (src/sync/placement.ts), so memory stays bounded whatever the size of the catalog. The
// round saves how many objects were at risk, which `grove status` reports without counting.

/** Objects read per page (and per statement). */
export const PLAN_PAGE = 2000;
/** Most objects one round's plan acts on, most at risk first; the rest wait for the next round. */
export const PLAN_MAX_OBJECTS = 20_000;

export interface PlanOptions {
  pageSize?: number;
  maxObjects?: number;
  /** Awaited between pages (the cell passes one that lets its event loop run). */
  pause?: () => Promise<void>;
}

export interface CatalogPlan {
  plan: PagedPlan;
  /** `hash/peer` of the copies a holder pinned: counted, never asked to be released. */
  pinned: Set<string>;
  /** The catalog's inventory counter when the plan started reading. */
  seq: number;
}

/**
 * Everything that decides whether some object has more or fewer counted copies than the
 * factor: the objects (their counter), the placement records (theirs, kept by triggers), which
 * peers count now (rule 5) and the factor. While it stays what it was at a plan that found no
 * such object, the plan is empty again, and the round need not read the catalog.
 */
function planMark(db: DB, ctx: PlanContext): string {
  return JSON.stringify([getMeta(db, 'object_seq') ?? '0', getMeta(db, 'placements_rev') ?? '0', ctx.factor ?? DEFAULT_REPLICATION_FACTOR,
    livePeers(ctx.peers, ctx.now, ctx.offlineGraceMs)]);
}

export async function planFromCatalog(db: DB, selfId: string, ctx: PlanContext, opts: PlanOptions = {}): Promise<CatalogPlan> {
  const limit = opts.pageSize ?? PLAN_PAGE;
  const builder = new PlanBuilder(ctx, opts.maxObjects ?? PLAN_MAX_OBJECTS);
  const seq = Number(getMeta(db, 'object_seq') ?? 0);
  const mark = planMark(db, ctx);
  if (getMeta(db, 'plan_settled_at') === mark) {
    return { plan: { push: [], release: [], atRisk: [], atRiskCount: 0, candidates: 0 }, pinned: new Set(), seq };
  }
  // In rowid order (the table's own order, no index): each page starts where the last ended.
  const page = db.prepare(`SELECT rowid AS r, hash, size FROM objects NOT INDEXED
    WHERE rowid > ? AND owner = ? AND present = 1 AND kind IN ('chunk', 'manifest') ORDER BY rowid LIMIT ?`);
  const records = db.prepare('SELECT hash, peer_id, state FROM placements WHERE hash IN (SELECT value FROM json_each(?))');
  const pinned = new Set<string>();
  for (let after = 0; ;) {
    const rows = page.all(after, selfId, limit) as (PlacedObject & { r: number })[];
    if (rows.length === 0) break;
    after = rows[rows.length - 1]!.r;
    const holders: Record<string, Holder[]> = {};
    for (const p of records.all(JSON.stringify(rows.map((o) => o.hash))) as { hash: string; peer_id: string; state: string }[]) {
      if (p.state === 'pinned') pinned.add(`${p.hash}/${p.peer_id}`);
      // A pinned copy is a confirmed copy to the policy.
      (holders[p.hash] ??= []).push({ peer: p.peer_id, state: p.state === 'releasing' ? 'releasing' : 'confirmed' });
    }
    builder.add(rows.map((o) => ({ hash: o.hash, size: o.size })), holders);
    if (rows.length < limit) break;
    await opts.pause?.();
  }
  const plan = builder.finish();
  // Nothing to do and nothing at risk: until the mark moves, neither will there be. (Writing
  // the mark moves nothing it covers.)
  if (plan.candidates === 0) setMeta(db, 'plan_settled_at', mark);
  // A pinned copy counts but is never asked for again (the object then stays above the factor
  // while the holder needs it for a grant).
  plan.release = plan.release.filter((r) => !pinned.has(`${r.hash}/${r.peer}`));
  return { plan, pinned, seq };
}

/** Saves the round's count of objects at risk, as of the catalog counter `seq`. */
export function saveAtRisk(db: DB, count: number, seq: number, now: number): void {
  db.transaction(() => {
    setMeta(db, 'at_risk', String(count));
    setMeta(db, 'at_risk_seq', String(seq));
    setMeta(db, 'at_risk_at', String(now));
  })();
}

/**
 * Own chunks and manifests below the replication factor, without counting the catalog: the
 * last round's count, plus own objects recorded since (they have no copy until a round
 * places them). Only the objects changed since that count are read.
 */
export function atRiskNow(db: DB, selfId: string): { count: number; countedAt: number | null } {
  const base = Number(getMeta(db, 'at_risk') ?? 0);
  const since = Number(getMeta(db, 'at_risk_seq') ?? 0);
  const at = getMeta(db, 'at_risk_at');
  const added = db.prepare(`SELECT COUNT(*) FROM objects WHERE owner = ? AND seq > ? AND present = 1 AND kind IN ('chunk', 'manifest')`)
    .pluck().get(selfId, since) as number;
  return { count: base + added, countedAt: at === undefined ? null : Number(at) };
}
