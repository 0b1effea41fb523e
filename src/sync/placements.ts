import type { DB } from '../store/db.js';

// The placements table: which peers hold copies of this cell's own objects. A record is
// written only from a holder's signed answer (a PUT it acknowledged, or its inventory),
// never assumed (docs/design.md §4: placement records are confirmed by the holder).

/**
 * confirmed: the holder said it has it. releasing: we asked it to drop it. pinned: it refused
 * to (it needs the object for a grant we gave it): a copy like a confirmed one, never released.
 */
export type PlacementState = 'confirmed' | 'releasing' | 'pinned';

export interface PlacementRow {
  hash: string;
  peer_id: string;
  state: PlacementState;
  updated_at: number;
}

/**
 * Records a copy confirmed by its holder. An inventory sighting (`fromPush` false) does not undo
 * an unfinished release (the release is retried); a fresh push the holder acknowledged does.
 */
export function confirmPlacement(db: DB, hash: string, peerId: string, now: number, fromPush = false): void {
  confirmPlacements(db, [hash], peerId, now, fromPush);
}

/** `confirmPlacement` for many objects at one holder (call inside a transaction): one compiled statement. */
export function confirmPlacements(db: DB, hashes: readonly string[], peerId: string, now: number, fromPush = false): void {
  const upsert = db.prepare(`INSERT INTO placements(hash, peer_id, state, updated_at) VALUES (?, ?, 'confirmed', ?)
    ON CONFLICT(hash, peer_id) DO UPDATE SET state = 'confirmed', updated_at = excluded.updated_at
    WHERE placements.state NOT IN ('releasing', 'pinned') OR ?`);
  for (const hash of hashes) upsert.run(hash, peerId, now, fromPush ? 1 : 0);
}

/** The holder refused to release it (it keeps it for a grant): keep counting it, stop asking. */
export function markPinned(db: DB, hash: string, peerId: string, now: number): void {
  db.prepare(`UPDATE placements SET state = 'pinned', updated_at = ? WHERE hash = ? AND peer_id = ?`).run(now, hash, peerId);
}

export function markReleasing(db: DB, hash: string, peerId: string, now: number): void {
  db.prepare(`UPDATE placements SET state = 'releasing', updated_at = ? WHERE hash = ? AND peer_id = ?`).run(now, hash, peerId);
}

export function dropPlacement(db: DB, hash: string, peerId: string): void {
  db.prepare('DELETE FROM placements WHERE hash = ? AND peer_id = ?').run(hash, peerId);
}

export function holdersOf(db: DB, hash: string): { peer: string; state: PlacementState }[] {
  return (db.prepare('SELECT peer_id, state FROM placements WHERE hash = ? ORDER BY peer_id').all(hash) as PlacementRow[])
    .map((r) => ({ peer: r.peer_id, state: r.state }));
}

export function getInventorySeq(db: DB, peerId: string): number {
  const r = db.prepare('SELECT inventory_seq FROM peer_sync WHERE peer_id = ?').get(peerId) as { inventory_seq: number } | undefined;
  return r?.inventory_seq ?? 0;
}

export function setInventorySeq(db: DB, peerId: string, seq: number, now: number): void {
  db.prepare(`INSERT INTO peer_sync(peer_id, inventory_seq, last_round_at) VALUES (?, ?, ?)
    ON CONFLICT(peer_id) DO UPDATE SET inventory_seq = excluded.inventory_seq, last_round_at = excluded.last_round_at`).run(peerId, seq, now);
}

export function resetInventorySeq(db: DB, peerId: string): void {
  db.prepare('UPDATE peer_sync SET inventory_seq = 0 WHERE peer_id = ?').run(peerId);
}

/** Re-read every peer's inventory from the start (after a restore: placements are rebuilt from what holders say). */
export function resetAllInventorySeqs(db: DB): void {
  db.prepare('UPDATE peer_sync SET inventory_seq = 0').run();
}

/**
 * Up to `n` distinct objects of ours that a peer is recorded as holding (confirmed or pinned,
 * present here): what a storage challenge asks for. All of them when there are no more than
 * `n`; otherwise picked by random positions among that peer's placement records, each found
 * with one index seek, so the cost does not grow with the catalog. The position order is this
 * cell's own insertion order, which the holder does not know: it cannot tell which of its
 * objects will be asked for.
 */
export function sampleHeldBy(db: DB, peerId: string, owner: string, n: number, random: () => number): string[] {
  if (n <= 0) return [];
  const held = `FROM placements p JOIN objects o ON o.hash = p.hash
    WHERE p.peer_id = @peer AND p.state IN ('confirmed', 'pinned') AND o.owner = @owner AND o.present = 1`;
  const first = (db.prepare(`SELECT p.hash ${held} ORDER BY p.rowid LIMIT @n`).pluck().all({ peer: peerId, owner, n: n + 1 }) as string[]);
  if (first.length <= n) return first;
  const bounds = db.prepare('SELECT MIN(rowid) AS lo, MAX(rowid) AS hi FROM placements WHERE peer_id = ?').get(peerId) as { lo: number; hi: number };
  const at = db.prepare(`SELECT p.hash ${held} AND p.rowid >= @from ORDER BY p.rowid LIMIT 1`).pluck();
  const out = new Set<string>();
  for (let tries = 0; out.size < n && tries < 4 * n; tries++) {
    const from = bounds.lo + Math.floor(random() * (bounds.hi - bounds.lo + 1));
    const hash = (at.get({ peer: peerId, owner, from }) ?? first[0]) as string; // past the last one: wrap around
    out.add(hash);
  }
  return [...out];
}
