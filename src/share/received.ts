import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import type { Home } from '../home/home.js';
import type { DB } from '../store/db.js';
import { verifyGrant, unwrapFileKey, type ShareGrant } from '../formats/grant.js';
import { openManifest } from '../formats/manifest.js';
import { isHash } from '../crypto/encoding.js';
import { MAX_SKEW_MS } from '../net/signing.js';
import { GroveError, badInput, forbidden, notFound } from '../errors.js';

// The recipient's side of sharing (seed "Sharing Flow", Recipient 1-4; docs/design.md §2 ShareGrant):
// accepting grants, the Feed, pinning what a held grant needs, dropping a grant on unshare.
// Pure database and local-object work: the HTTP endpoints (routes.ts) and the CLI call it.

/** A grant older than this is refused; the sharer re-signs old undelivered grants (GRANT_REFRESH_MS). */
export const MAX_GRANT_AGE_MS = 90 * 24 * 3600 * 1000;
/** Grants one cell may have in our Feed at once (a paired peer is trusted, not unlimited). */
export const MAX_GRANTS_PER_CREATOR = 10_000;
/** Grants from one cell whose manifest has not arrived yet: more are refused until some arrive. */
export const MAX_PENDING_GRANTS_PER_CREATOR = 500;
/** A grant whose manifest never arrived within this time is dropped (the sharer can share again). */
export const PENDING_GRANT_TTL_MS = 7 * 24 * 3600 * 1000;

export interface ReceiveResult {
  accepted: boolean;
  duplicate?: true;
}

interface ReceivedRow {
  manifest_hash: string;
  creator: string;
  grant_json: string;
  filename: string;
  file_type: string;
  total_size: number;
  granted_at: number;
  received_at: number;
  dropped_at: number | null;
  indexed: number;
}

/**
 * POST /api/receive-grant. `callerId` is the verified signer of the request (a paired peer).
 * Refused (and stored nowhere): a malformed grant (BAD_INPUT), one for another cell or not
 * from its creator (FORBIDDEN), a bad signature (UNAUTHENTICATED), an implausible granted_at
 * or a key that does not unwrap with our X25519 key (BAD_INPUT), one grant too many from this
 * creator (QUOTA_EXCEEDED). A grant we already hold is a no-op; so is a replay of one we
 * dropped (only a newer grant re-shares a dropped file).
 */
export function receiveGrant(home: Home, callerId: string, body: unknown, now: number): ReceiveResult {
  const selfId = home.keys.cellId;
  const g = verifyGrant(body, selfId);
  if (g.creator_pubkey !== callerId) throw forbidden('a grant is accepted only from the cell that signed it');
  if (g.granted_at > now + MAX_SKEW_MS) throw badInput('granted_at is in the future');
  if (g.granted_at < now - MAX_GRANT_AGE_MS) throw badInput('granted_at is too old; share again');
  try {
    unwrapFileKey(g, home.keys.x25519.privateKey, home.keys.x25519.publicRaw);
  } catch (e) {
    if (e instanceof GroveError && e.code === 'CORRUPT') throw badInput('the grant\'s key does not unwrap with this cell\'s key');
    throw e;
  }
  const db = home.db;
  const result = db.transaction((): ReceiveResult => {
    const row = getReceived(db, g.manifest_hash, g.creator_pubkey);
    if (row && (row.dropped_at === null || g.granted_at <= row.granted_at)) return { accepted: false, duplicate: true };
    // A dropped grant's row is kept to refuse its replay, which the age check refuses once it is
    // old enough: only then can the row go. Dropped rows count too, or share-unshare cycles
    // would grow the table without bound.
    db.prepare('DELETE FROM received_grants WHERE creator = ? AND dropped_at IS NOT NULL AND granted_at < ?').run(g.creator_pubkey, now - MAX_GRANT_AGE_MS);
    // A grant whose manifest never came expires (its pins go with it), so promises that are
    // never kept cannot pile up.
    expirePending(db, g.creator_pubkey, now);
    const held = (db.prepare('SELECT COUNT(*) AS n FROM received_grants WHERE creator = ?').get(g.creator_pubkey) as { n: number }).n;
    if (!row && held >= MAX_GRANTS_PER_CREATOR) throw new GroveError('QUOTA_EXCEEDED', `this cell holds ${MAX_GRANTS_PER_CREATOR} grants from you already`);
    const pending = db.prepare('SELECT COUNT(*) FROM received_grants WHERE creator = ? AND dropped_at IS NULL AND indexed = 0').pluck().get(g.creator_pubkey) as number;
    if (pending >= MAX_PENDING_GRANTS_PER_CREATOR) {
      throw new GroveError('QUOTA_EXCEEDED', `${MAX_PENDING_GRANTS_PER_CREATOR} of your grants here still wait for their manifest; send those first`);
    }
    db.prepare(`INSERT INTO received_grants(manifest_hash, creator, grant_json, filename, file_type, total_size, granted_at, received_at, dropped_at, indexed)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0)
      ON CONFLICT(manifest_hash, creator) DO UPDATE SET grant_json = excluded.grant_json, filename = excluded.filename,
        file_type = excluded.file_type, total_size = excluded.total_size, granted_at = excluded.granted_at,
        received_at = excluded.received_at, dropped_at = NULL, indexed = 0`)
      .run(g.manifest_hash, g.creator_pubkey, JSON.stringify(g), g.filename, g.file_type, g.total_size, g.granted_at, now);
    // The manifest is pinned from the start; its chunks once it arrives and is opened.
    db.prepare('INSERT OR IGNORE INTO grant_objects(manifest_hash, creator, idx, hash) VALUES (?, ?, -1, ?)')
      .run(g.manifest_hash, g.creator_pubkey, g.manifest_hash);
    return { accepted: true };
  })();
  if (result.accepted) indexPending(home, g.manifest_hash);
  return result;
}

function expirePending(db: DB, creator: string, now: number): void {
  const old = db.prepare('SELECT manifest_hash FROM received_grants WHERE creator = ? AND dropped_at IS NULL AND indexed = 0 AND received_at < ?')
    .pluck().all(creator, now - PENDING_GRANT_TTL_MS) as string[];
  for (const m of old) {
    db.prepare('DELETE FROM grant_objects WHERE manifest_hash = ? AND creator = ?').run(m, creator);
    db.prepare('DELETE FROM received_grants WHERE manifest_hash = ? AND creator = ?').run(m, creator);
  }
}

/**
 * POST /api/unshare {manifest_hash}: the creator of a grant we hold asks us to drop it. The
 * grant leaves the Feed and its objects are unpinned (the bytes stay until their owner's
 * replication releases them; nothing delivered can be recalled). 404 when the caller gave us
 * no such grant: another cell cannot drop someone else's grant, nor learn that it exists.
 */
export function receiveUnshare(db: DB, callerId: string, body: unknown, now: number): { dropped: true } {
  const hash = (body as { manifest_hash?: unknown } | undefined)?.manifest_hash;
  if (!body || typeof body !== 'object' || Array.isArray(body) || Object.keys(body).length !== 1 || !isHash(hash)) {
    throw badInput('expected {manifest_hash}');
  }
  const dropped = db.transaction(() => {
    const r = db.prepare('UPDATE received_grants SET dropped_at = ? WHERE manifest_hash = ? AND creator = ? AND dropped_at IS NULL').run(now, hash, callerId);
    if (r.changes === 0) return false;
    db.prepare('DELETE FROM grant_objects WHERE manifest_hash = ? AND creator = ?').run(hash, callerId);
    return true;
  })();
  if (!dropped) throw notFound('no grant from you for that manifest');
  return { dropped: true };
}

/**
 * Whether a held grant needs this object (its manifest or one of its chunks) and the grant's
 * creator stored it here: refuse to release it. Only references of the grant's creator are
 * pinned (`owner`, when given, is the one asking), so a grant naming someone else's object
 * cannot keep that object from its owner.
 */
export function isPinned(home: Home, hash: string, owner?: string): boolean {
  return home.db.prepare(`SELECT 1 FROM grant_objects g JOIN object_refs r ON r.hash = g.hash AND r.owner = g.creator
    WHERE g.hash = ? AND r.present = 1 AND (? IS NULL OR g.creator = ?) LIMIT 1`).get(hash, owner ?? null, owner ?? null) !== undefined;
}

/**
 * Lists the chunks of the held grants for this manifest (or of every held grant, at start)
 * once the manifest has arrived, so they are pinned and the Feed can tell whether the file is
 * complete. Called when a grant or a manifest arrives: the cost of one call does not depend on
 * how many other grants still wait for their manifest.
 */
export function indexPending(home: Home, manifestHash?: string): void {
  const db = home.db;
  const rows = (manifestHash === undefined
    ? db.prepare('SELECT * FROM received_grants WHERE dropped_at IS NULL AND indexed = 0').all()
    : db.prepare('SELECT * FROM received_grants WHERE manifest_hash = ? AND dropped_at IS NULL AND indexed = 0').all(manifestHash)) as ReceivedRow[];
  for (const row of rows) {
    let sealed: Buffer;
    try {
      sealed = readFileSync(home.objects.pathOf(row.manifest_hash));
    } catch {
      continue; // not here yet
    }
    if (createHash('sha256').update(sealed).digest('hex') !== row.manifest_hash) continue; // corrupt copy: wait for a good one
    let chunks: string[] | undefined;
    try {
      const key = unwrapFileKey(JSON.parse(row.grant_json) as ShareGrant, home.keys.x25519.privateKey, home.keys.x25519.publicRaw);
      chunks = openManifest(key, sealed).chunks.map((c) => c.hash);
    } catch {
      chunks = undefined; // the creator signed a key that does not open its manifest
    }
    db.transaction(() => {
      const still = db.prepare('SELECT 1 FROM received_grants WHERE manifest_hash = ? AND creator = ? AND dropped_at IS NULL AND indexed = 0')
        .get(row.manifest_hash, row.creator);
      if (!still) return;
      if (chunks) {
        const ins = db.prepare('INSERT OR IGNORE INTO grant_objects(manifest_hash, creator, idx, hash) VALUES (?, ?, ?, ?)');
        chunks.forEach((h, i) => ins.run(row.manifest_hash, row.creator, i, h));
      }
      db.prepare('UPDATE received_grants SET indexed = ? WHERE manifest_hash = ? AND creator = ?').run(chunks ? 1 : -1, row.manifest_hash, row.creator);
    })();
  }
}

export interface FeedItem {
  /** The sharer's cell ID. */
  from: string;
  /** The sharer's name in our peer list (null if it is no longer a peer). */
  from_name: string | null;
  filename: string;
  file_type: string;
  total_size: number;
  granted_at: number;
  manifest_hash: string;
  /** The manifest and every chunk are present here (`grove get` works offline). */
  available: boolean;
}

/** Files shared with this cell, newest grant first (`grove feed`). */
export function feedItems(home: Home): FeedItem[] {
  const db = home.db;
  const rows = db.prepare(`SELECT r.*, p.name AS peer_name FROM received_grants r LEFT JOIN peers p ON p.id = r.creator
    WHERE r.dropped_at IS NULL ORDER BY r.granted_at DESC, r.manifest_hash`).all() as (ReceivedRow & { peer_name: string | null })[];
  const objectsOf = db.prepare('SELECT hash FROM grant_objects WHERE manifest_hash = ? AND creator = ?');
  return rows.map((r) => ({
    from: r.creator,
    from_name: r.peer_name,
    filename: r.filename,
    file_type: r.file_type,
    total_size: r.total_size,
    granted_at: r.granted_at,
    manifest_hash: r.manifest_hash,
    available: r.indexed === 1 && (objectsOf.all(r.manifest_hash, r.creator) as { hash: string }[]).every((o) => home.objects.has(o.hash)),
  }));
}

/** A held grant, as accepted (its signature was checked on receipt and is checked again on unwrap). */
export interface HeldGrant {
  grant: ShareGrant;
  creator: string;
}

/**
 * A Feed item for `grove get`: by manifest hash, or by file name (the newest grant of that
 * name; names from different sharers, or different files, are ambiguous). undefined if none.
 */
export function findHeldGrant(db: DB, query: string): HeldGrant | undefined {
  const rows = (isHash(query)
    ? db.prepare('SELECT * FROM received_grants WHERE manifest_hash = ? AND dropped_at IS NULL ORDER BY granted_at DESC').all(query)
    : db.prepare('SELECT * FROM received_grants WHERE filename = ? AND dropped_at IS NULL ORDER BY granted_at DESC').all(query)) as ReceivedRow[];
  if (!rows.length) return undefined;
  const creators = new Set(rows.map((r) => r.creator));
  if (!isHash(query) && creators.size > 1) {
    throw new GroveError('CONFLICT', `several cells shared a file named ${query}; give its manifest hash (see \`grove feed\`): ${rows.map((r) => r.manifest_hash).join(', ')}`);
  }
  const r = rows[0]!;
  return { grant: JSON.parse(r.grant_json) as ShareGrant, creator: r.creator };
}

function getReceived(db: DB, manifestHash: string, creator: string): ReceivedRow | undefined {
  return db.prepare('SELECT * FROM received_grants WHERE manifest_hash = ? AND creator = ?').get(manifestHash, creator) as ReceivedRow | undefined;
}

/** The grants we hold (as their creators signed them), for the recovery index. */
export function heldGrantsJson(db: DB): unknown[] {
  return (db.prepare('SELECT grant_json FROM received_grants WHERE dropped_at IS NULL ORDER BY manifest_hash, creator').all() as { grant_json: string }[])
    .map((r) => JSON.parse(r.grant_json) as unknown);
}

/** Is `hash` something a grant from `creator` that we hold needs (we keep it for that grant)? */
export function heldForCreator(db: DB, hash: string, creator: string): boolean {
  return db.prepare('SELECT 1 FROM grant_objects WHERE hash = ? AND creator = ? LIMIT 1').get(hash, creator) !== undefined;
}
