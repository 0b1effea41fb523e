import type { DB } from '../store/db.js';
import { placeableObjects } from '../store/catalog.js';
import { planPlacement, type PeerInfo, type Plan } from './placement.js';
import { policyHolders } from './placements.js';

// The placement plan of this cell's own objects from placement.db: gathers the policy's input
// (src/sync/placement.ts) and runs it. The sync round calls it twice (to push, then to count
// what is still at risk).

export interface PlanContext {
  factor: number;
  now: number;
  offlineGraceMs: number;
  peers: PeerInfo[];
}

export function planFromCatalog(db: DB, selfId: string, c: PlanContext): Plan {
  const objects = placeableObjects(db, selfId);
  const { holders, pinned } = policyHolders(db, selfId);
  const plan = planPlacement({ factor: c.factor, now: c.now, offlineGraceMs: c.offlineGraceMs, objects, holders, peers: c.peers });
  // A pinned copy counts but is never asked for again (the object then stays above the factor
  // while the holder needs it for a grant).
  plan.release = plan.release.filter((r) => !pinned.has(`${r.hash}/${r.peer}`));
  return plan;
}
