import type { DB } from '../store/db.js';
import type { ShareGrant } from '../formats/grant.js';

// The sharer's tables (migration 40): `shares` (a path shared with a recipient, every version
// until revoked) and `sent_grants` (one signed grant per manifest and recipient, with its
// delivery progress). Queries only; service.ts decides what to do.

export interface SentGrantRow {
  manifest_hash: string;
  recipient: string;
  path: string;
  grant_json: string;
  created_at: number;
  grant_delivered_at: number | null;
  objects_delivered_at: number | null;
  revoked_at: number | null;
  unshare_delivered_at: number | null;
  last_error: string | null;
}

/** Starts (or restarts after an unshare) sharing a path with a recipient. */
export function activateShare(db: DB, path: string, recipient: string, now: number): void {
  db.prepare(`INSERT INTO shares(path, recipient, created_at, revoked_at) VALUES (?, ?, ?, NULL)
    ON CONFLICT(path, recipient) DO UPDATE SET revoked_at = NULL,
      created_at = CASE WHEN shares.revoked_at IS NULL THEN shares.created_at ELSE excluded.created_at END`).run(path, recipient, now);
}

/**
 * Stores a new grant for (manifest, recipient) unless an unrevoked one exists (returns false
 * then). A revoked grant is replaced: sharing again starts its delivery over.
 */
export function storeGrant(db: DB, g: ShareGrant, path: string, now: number): boolean {
  const r = db.prepare(`INSERT INTO sent_grants(manifest_hash, recipient, path, grant_json, created_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT(manifest_hash, recipient) DO UPDATE SET path = excluded.path, grant_json = excluded.grant_json,
      created_at = excluded.created_at, grant_delivered_at = NULL, objects_delivered_at = NULL, revoked_at = NULL,
      unshare_delivered_at = NULL, last_error = NULL
    WHERE sent_grants.revoked_at IS NOT NULL`).run(g.manifest_hash, g.recipient_pubkey, path, JSON.stringify(g), now);
  return r.changes === 1;
}

/** Replaces an undelivered grant with a freshly signed one (same manifest and recipient). */
export function replaceUndeliveredGrant(db: DB, g: ShareGrant, now: number): void {
  db.prepare(`UPDATE sent_grants SET grant_json = ?, created_at = ? WHERE manifest_hash = ? AND recipient = ? AND grant_delivered_at IS NULL`)
    .run(JSON.stringify(g), now, g.manifest_hash, g.recipient_pubkey);
}

export function getSentGrant(db: DB, manifestHash: string, recipient: string): SentGrantRow | undefined {
  return db.prepare('SELECT * FROM sent_grants WHERE manifest_hash = ? AND recipient = ?').get(manifestHash, recipient) as SentGrantRow | undefined;
}

/** Active shares of this recipient whose path has a latest version without a grant for it. */
export function ungrantedLatest(db: DB, recipient: string): { path: string; manifest_hash: string }[] {
  return db.prepare(`SELECT s.path AS path, f.manifest_hash AS manifest_hash FROM shares s
    JOIN files f ON f.path = s.path AND f.version = (SELECT MAX(version) FROM files WHERE path = s.path)
    WHERE s.recipient = ? AND s.revoked_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM sent_grants g WHERE g.manifest_hash = f.manifest_hash AND g.recipient = s.recipient)
    ORDER BY s.path`).all(recipient) as { path: string; manifest_hash: string }[];
}

/** Unrevoked grants for this recipient whose grant or objects are not delivered yet, oldest first. */
export function undeliveredGrants(db: DB, recipient: string): SentGrantRow[] {
  return db.prepare(`SELECT * FROM sent_grants WHERE recipient = ? AND revoked_at IS NULL AND objects_delivered_at IS NULL
    ORDER BY created_at, manifest_hash`).all(recipient) as SentGrantRow[];
}

/** Revoked grants whose recipient has not answered our unshare request yet. */
export function pendingUnshares(db: DB, recipient: string): SentGrantRow[] {
  return db.prepare(`SELECT * FROM sent_grants WHERE recipient = ? AND revoked_at IS NOT NULL AND unshare_delivered_at IS NULL
    ORDER BY revoked_at, manifest_hash`).all(recipient) as SentGrantRow[];
}

/** Whether anything is owed to this recipient (a cheap check before contacting it). */
export function hasPendingFor(db: DB, recipient: string): boolean {
  const owed = db.prepare(`SELECT 1 FROM sent_grants WHERE recipient = ?
    AND ((revoked_at IS NULL AND objects_delivered_at IS NULL) OR (revoked_at IS NOT NULL AND unshare_delivered_at IS NULL)) LIMIT 1`).get(recipient);
  return owed !== undefined || ungrantedLatest(db, recipient).length > 0;
}

export function markGrantDelivered(db: DB, manifestHash: string, recipient: string, now: number): void {
  db.prepare('UPDATE sent_grants SET grant_delivered_at = COALESCE(grant_delivered_at, ?), last_error = NULL WHERE manifest_hash = ? AND recipient = ?')
    .run(now, manifestHash, recipient);
}

export function markObjectsDelivered(db: DB, manifestHash: string, recipient: string, now: number): void {
  db.prepare('UPDATE sent_grants SET objects_delivered_at = ?, last_error = NULL WHERE manifest_hash = ? AND recipient = ? AND revoked_at IS NULL')
    .run(now, manifestHash, recipient);
}

export function markUnshareDelivered(db: DB, manifestHash: string, recipient: string, now: number): void {
  db.prepare('UPDATE sent_grants SET unshare_delivered_at = ?, last_error = NULL WHERE manifest_hash = ? AND recipient = ? AND revoked_at IS NOT NULL')
    .run(now, manifestHash, recipient);
}

export function recordError(db: DB, manifestHash: string, recipient: string, error: string): void {
  db.prepare('UPDATE sent_grants SET last_error = ? WHERE manifest_hash = ? AND recipient = ?').run(error.slice(0, 300), manifestHash, recipient);
}

/**
 * `grove unshare`: revokes the share of a path and every unrevoked grant of it for this
 * recipient. `shared` is false when nothing was shared; `manifests` are the grants revoked now.
 */
export function revokeShare(db: DB, path: string, recipient: string, now: number): { shared: boolean; manifests: string[] } {
  return db.transaction(() => {
    const shared = db.prepare('UPDATE shares SET revoked_at = ? WHERE path = ? AND recipient = ? AND revoked_at IS NULL').run(now, path, recipient).changes === 1;
    const rows = db.prepare('SELECT manifest_hash FROM sent_grants WHERE path = ? AND recipient = ? AND revoked_at IS NULL ORDER BY created_at')
      .all(path, recipient) as { manifest_hash: string }[];
    db.prepare('UPDATE sent_grants SET revoked_at = ? WHERE path = ? AND recipient = ? AND revoked_at IS NULL').run(now, path, recipient);
    return { shared: shared || rows.length > 0, manifests: rows.map((r) => r.manifest_hash) };
  })();
}

/** Whether the recipient has confirmed a copy of this object of ours (placements, docs/design.md §4). */
export function holderHas(db: DB, hash: string, peerId: string): boolean {
  return db.prepare(`SELECT 1 FROM placements WHERE hash = ? AND peer_id = ? AND state = 'confirmed'`).get(hash, peerId) !== undefined;
}

/** Active shares (path, recipient), for the recovery index. */
export function activeShares(db: DB): { path: string; recipient: string }[] {
  return db.prepare('SELECT path, recipient FROM shares WHERE revoked_at IS NULL ORDER BY path, recipient').all() as { path: string; recipient: string }[];
}

/** Recipients each of these paths is shared with now (not revoked): the dashboard's Files page. */
export function activeRecipients(db: DB, paths: string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const q = db.prepare('SELECT recipient FROM shares WHERE path = ? AND revoked_at IS NULL ORDER BY created_at');
  for (const p of paths) {
    const rows = q.all(p) as { recipient: string }[];
    if (rows.length) out.set(p, rows.map((r) => r.recipient));
  }
  return out;
}

/** Is `hash` the manifest or a chunk of a file we share with `recipient` (grant not revoked)? */
export function grantedObject(db: DB, hash: string, recipient: string): boolean {
  return db.prepare(`SELECT 1 FROM sent_grants WHERE recipient = @recipient AND revoked_at IS NULL
    AND (manifest_hash = @hash OR manifest_hash IN (SELECT manifest_hash FROM file_chunks WHERE hash = @hash)) LIMIT 1`).get({ recipient, hash }) !== undefined;
}
