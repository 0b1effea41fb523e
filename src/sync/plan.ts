import type { DB } from '../store/db.js';
import { getMeta, setMeta } from '../store/db.js';
import { DEFAULT_REPLICATION_FACTOR, PlanBuilder, livePeers, type Holder, type PagedPlan, type PlanContext } from './placement.js';

// The placement plan of this cell's own objects from placement.db: reads the catalog a page
// at a time, with the placement records of that page only, and feeds the policy
// (src/sync/placement.ts), so memory stays bounded whatever the size of the catalog. The
// round saves how many objects were at risk, which `grove status` reports without counting.

/** Objects read per page (and per statement). */
export const PLAN_PAGE = 1000;
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
  // A page of objects in rowid order (the table's own order, no index; each page starts where
  // the last ended), each with its records: one row per record, rows of an object together.
  // Raw rows and no statement left open across the pause: other work may use the database.
  const page = db.prepare(`SELECT o.rowid, o.hash, o.size, p.peer_id, p.state FROM (
      SELECT rowid, hash, size FROM objects NOT INDEXED
      WHERE rowid > ? AND owner = ? AND present = 1 AND kind IN ('chunk', 'manifest') ORDER BY rowid LIMIT ?
    ) o LEFT JOIN placements p ON p.hash = o.hash ORDER BY o.rowid`).raw();
  const pinned = new Set<string>();
  for (let after = 0; ;) {
    const rows = page.all(after, selfId, limit) as [number, string, number, string | null, string | null][];
    if (rows.length === 0) break;
    let objects = 0;
    for (let i = 0; i < rows.length;) {
      const [rowid, hash, size] = rows[i]!;
      const holders: Holder[] = [];
      for (; i < rows.length && rows[i]![0] === rowid; i++) {
        const [, , , peer, state] = rows[i]!;
        if (peer === null || state === null) continue;
        if (state === 'pinned') pinned.add(`${hash}/${peer}`);
        // A pinned copy is a confirmed copy to the policy.
        holders.push({ peer, state: state === 'releasing' ? 'releasing' : 'confirmed' });
      }
      builder.addObject({ hash, size }, holders);
      after = rowid;
      objects++;
    }
    if (objects < limit) break;
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
