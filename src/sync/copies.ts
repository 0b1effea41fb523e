import type { DB } from '../store/db.js';
import type { PeerHealth } from '../peers/records.js';
import { countCopies, countAtRisk, type CopyView, type PeerInfo } from './placement.js';
import { policyHolders } from './placements.js';
import { placeableObjects } from '../store/catalog.js';
import { chunkHashesOf } from '../ingest/files.js';

// What `grove ls` ("copies", "desired", "holders") and `grove status` ("at_risk") report,
// computed with the same rules as the placement policy (a holder offline past the grace
// period does not count).

export interface CopyContext {
  db: DB;
  selfId: string;
  now: number;
  offlineGraceMs: number;
  factor: number;
  peers: { id: string; preferred: boolean }[];
  health: (peerId: string) => PeerHealth | undefined;
}

export function copyView(c: CopyContext): CopyView {
  const { holders } = policyHolders(c.db, c.selfId);
  const peers: PeerInfo[] = c.peers.map((p) => {
    const h = c.health(p.id);
    return {
      id: p.id,
      preferred: p.preferred,
      online: h?.online ?? false,
      ...(h?.last_ok ? { lastSeen: h.last_ok } : {}),
    };
  });
  return { now: c.now, offlineGraceMs: c.offlineGraceMs, holders, peers };
}

/** The objects a file version needs: its manifest and its chunks. */
export function fileObjects(db: DB, manifestHash: string): string[] {
  return [manifestHash, ...chunkHashesOf(db, manifestHash)];
}

export interface FileCopies {
  /** Fewest counted peer copies over the file's objects. */
  copies: number;
  desired: number;
  /** Peers holding a confirmed copy of at least one of the file's objects. */
  holders: string[];
}

export function fileCopies(c: CopyContext, view: CopyView, manifestHash: string): FileCopies {
  const hashes = fileObjects(c.db, manifestHash);
  const holders = new Set<string>();
  for (const h of hashes) for (const x of view.holders[h] ?? []) if (x.state === 'confirmed') holders.add(x.peer);
  return { copies: countCopies(hashes, view), desired: c.factor, holders: [...holders].sort() };
}

/** This cell's own chunks and manifests below the replication factor. */
export function atRisk(c: CopyContext, view: CopyView = copyView(c)): number {
  const hashes = placeableObjects(c.db, c.selfId).map((o) => o.hash);
  return countAtRisk(hashes, view, c.factor);
}
