// The placement probe of `npm run bench:scale`, run in a process of its own: the whole plan of
// a cell's own objects (the queries that feed the policy, and the policy), as a sync round
// computes it, with every paired peer online and reachable.

import { join } from 'node:path';
import { openDb } from '../src/store/db.js';
import { planFromCatalog } from '../src/sync/plan.js';
import { PeerRegistry } from '../src/peers/registry.js';
import { loadConfig } from '../src/home/config.js';

export interface PlanFigures {
  objects: number;
  planSeconds: number;
  push: number;
  release: number;
  atRisk: number;
}

export async function planProbe(home: string): Promise<PlanFigures> {
  const db = openDb(join(home, 'placement.db'));
  try {
    const config = loadConfig(join(home, 'config.json'));
    const selfId = db.prepare("SELECT owner FROM objects WHERE kind = 'manifest' LIMIT 1").pluck().get() as string;
    const now = Date.now();
    const peers = new PeerRegistry(db, () => now).list().map((p) => ({ id: p.id, preferred: p.preferred, online: true, lastSeen: now, score: 1 }));
    const objects = db.prepare("SELECT COUNT(*) FROM objects WHERE owner = ? AND present = 1 AND kind IN ('chunk', 'manifest')").pluck().get(selfId) as number;
    // A whole plan, even where the last round found nothing to do (it would skip the catalog).
    db.prepare("DELETE FROM meta WHERE key = 'plan_settled_at'").run();
    const t0 = performance.now();
    const { plan } = await planFromCatalog(db, selfId, { factor: config.replication.factor, now, offlineGraceMs: config.replication.offline_grace_s * 1000, peers }, {
      pause: () => new Promise<void>((resolve) => setImmediate(resolve)),
    });
    const planSeconds = (performance.now() - t0) / 1000;
    return { objects, planSeconds, push: plan.push.length, release: plan.release.length, atRisk: plan.atRiskCount };
  } finally {
    db.close();
  }
}
