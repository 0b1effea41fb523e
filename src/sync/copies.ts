import type { DB } from '../store/db.js';
import type { PeerHealth } from '../peers/records.js';
import { countCopies, type CopyView, type Holder, type PeerInfo } from './placement.js';

// What `grove ls` ("copies", "desired", "holders") reports, computed with the same rules as
// the placement policy (a holder offline past the grace period does not count). Each file
// reads the records of its own objects only, so a listing costs one file at a time, never the
// whole placements table. (`grove status` "at_risk": src/sync/plan.ts.)

export interface CopyContext {
  db: DB;
  selfId: string;
  now: number;
  offlineGraceMs: number;
  factor: number;
  peers: { id: string; preferred: boolean }[];
  health: (peerId: string) => PeerHealth | undefined;
}

/** The peers as the policy sees them now: what counting needs besides the records. */
export type PeerView = Omit<CopyView, 'holders'>;

export function peerView(c: CopyContext): PeerView {
  const peers: PeerInfo[] = c.peers.map((p) => {
    const h = c.health(p.id);
    return {
      id: p.id,
      preferred: p.preferred,
      online: h?.online ?? false,
      ...(h?.last_ok ? { lastSeen: h.last_ok } : {}),
    };
  });
  return { now: c.now, offlineGraceMs: c.offlineGraceMs, peers };
}

/**
 * The objects a file version needs (its manifest and its chunks) with the placement records of
 * those present here as ours, as the policy sees them (a pinned copy is a confirmed one). The
 * statement is prepared once: a listing asks for every file.
 */
export function fileHolders(db: DB, selfId: string): (manifestHash: string) => { hashes: string[]; holders: Record<string, Holder[]> } {
  const stmt = db.prepare(`SELECT x.hash, p.peer_id, p.state FROM (
      SELECT @m AS hash UNION SELECT hash FROM file_chunks WHERE manifest_hash = @m
    ) x LEFT JOIN placements p ON p.hash = x.hash
      AND EXISTS (SELECT 1 FROM objects o WHERE o.hash = x.hash AND o.owner = @self AND o.present = 1)`);
  return (manifestHash) => {
    const rows = stmt.all({ m: manifestHash, self: selfId }) as { hash: string; peer_id: string | null; state: string | null }[];
    const hashes = new Set<string>();
    const holders: Record<string, Holder[]> = {};
    for (const r of rows) {
      hashes.add(r.hash);
      if (r.peer_id === null || r.state === null) continue;
      (holders[r.hash] ??= []).push({ peer: r.peer_id, state: r.state === 'releasing' ? 'releasing' : 'confirmed' });
    }
    return { hashes: [...hashes], holders };
  };
}

export interface FileCopies {
  /** Fewest counted peer copies over the file's objects. */
  copies: number;
  desired: number;
  /** Peers holding a confirmed copy of at least one of the file's objects. */
  holders: string[];
}

/** Counts the copies of one file version after another, as the peers are now. */
export function fileCopies(c: CopyContext): (manifestHash: string) => FileCopies {
  const view = peerView(c);
  const recordsOf = fileHolders(c.db, c.selfId);
  return (manifestHash) => {
    const { hashes, holders: records } = recordsOf(manifestHash);
    const holders = new Set<string>();
    for (const h of hashes) for (const x of records[h] ?? []) if (x.state === 'confirmed') holders.add(x.peer);
    return { copies: countCopies(hashes, { ...view, holders: records }), desired: c.factor, holders: [...holders].sort() };
  };
}
