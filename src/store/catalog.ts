import type { DB } from './db.js';
import { cached, nextCounter } from './db.js';

// The objects and object_refs tables: which objects this cell holds, who holds a reference
// to each (one per owner: the same bytes stored by two owners are charged to and listed for
// each), and the inventory sequence (docs/design.md §3 "inventory (incremental, by sequence
// number)"). Every change to an owner's references takes a new seq, so a peer asks only for
// what changed. objects.owner is the first owner (this cell for its own objects).

export type ObjectKind = 'chunk' | 'manifest' | 'index' | 'blob';

export interface ObjectRow {
  hash: string;
  size: number;
  kind: ObjectKind;
  owner: string;
  seq: number;
  present: number;
  added_at: number;
}

/** Records an object as present, with a reference for `o.owner`. Returns true when this changed the inventory. */
export function recordObject(db: DB, o: { hash: string; size: number; kind: ObjectKind; owner: string }, now: number): boolean {
  return recordObjects(db, [o], now) > 0;
}

/**
 * Records many objects as present, each with a reference for its owner (call inside a
 * transaction): the statements are prepared once and the inventory counter is read and
 * written once, so recording the 1 024 chunks of a 4 GiB file costs neither thousands of
 * compiled statements (~12 MB held until GC, measured) nor thousands of counter updates.
 * Same effect as `recordObject` on each, in order. Returns how many changed the inventory.
 */
export function recordObjects(db: DB, objects: { hash: string; size: number; kind: ObjectKind; owner: string }[], now: number): number {
  if (objects.length === 0) return 0;
  // Compiled once per database (`cached`): this runs per object on a holder and per file on add.
  const present = cached(db, 'SELECT present FROM objects WHERE hash = ?');
  const upsert = cached(db, `INSERT INTO objects(hash, size, kind, owner, seq, present, added_at) VALUES (?, ?, ?, ?, ?, 1, ?)
    ON CONFLICT(hash) DO UPDATE SET size = excluded.size, kind = excluded.kind, owner = excluded.owner,
      seq = excluded.seq, present = 1, added_at = excluded.added_at`);
  const refPresent = cached(db, 'SELECT present FROM object_refs WHERE hash = ? AND owner = ?');
  const upsertRef = cached(db, `INSERT INTO object_refs(hash, owner, size, kind, seq, present, added_at) VALUES (?, ?, ?, ?, ?, 1, ?)
    ON CONFLICT(hash, owner) DO UPDATE SET size = excluded.size, kind = excluded.kind, seq = excluded.seq, present = 1, added_at = excluded.added_at`);
  const counter = (cached(db, "SELECT value FROM meta WHERE key = 'object_seq'").get() as { value: string } | undefined)?.value;
  let seq = counter === undefined ? 0 : Number(counter);
  let changed = 0;
  const seen = new Set<string>();
  for (const o of objects) {
    const key = `${o.hash}/${o.owner}`;
    if (seen.has(key)) continue;
    seen.add(key);
    // One seq per change: a new object and its first reference share it.
    const newObject = (present.get(o.hash) as { present: number } | undefined)?.present !== 1;
    const newRef = (refPresent.get(o.hash, o.owner) as { present: number } | undefined)?.present !== 1;
    if (!newObject && !newRef) continue;
    ++seq;
    if (newObject) upsert.run(o.hash, o.size, o.kind, o.owner, seq, now);
    if (newRef) upsertRef.run(o.hash, o.owner, o.size, o.kind, seq, now);
    changed++;
  }
  if (changed) {
    cached(db, "INSERT INTO meta(key, value) VALUES ('object_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(String(seq));
  }
  return changed;
}

/**
 * Marks an object removed, and every reference to it (tombstones with new seqs, so each owner
 * learns of it incrementally).
 */
export function recordRemoved(db: DB, hash: string): boolean {
  const row = db.prepare('SELECT present FROM objects WHERE hash = ?').get(hash) as { present: number } | undefined;
  if (!row || row.present === 0) return false;
  db.prepare('UPDATE objects SET present = 0, seq = ? WHERE hash = ?').run(nextCounter(db, 'object_seq'), hash);
  const owners = db.prepare('SELECT owner FROM object_refs WHERE hash = ? AND present = 1').pluck().all(hash) as string[];
  for (const owner of owners) {
    db.prepare('UPDATE object_refs SET present = 0, seq = ? WHERE hash = ? AND owner = ?').run(nextCounter(db, 'object_seq'), hash, owner);
  }
  return true;
}

/** Does `owner` hold a reference to this (present) object here? */
export function hasRef(db: DB, hash: string, owner: string): boolean {
  return db.prepare('SELECT 1 FROM object_refs WHERE hash = ? AND owner = ? AND present = 1').get(hash, owner) !== undefined;
}

/**
 * Drops `owner`'s reference (a tombstone with a new seq). Returns how many references are
 * left: at 0 the caller removes the object itself (recordRemoved, then the bytes).
 */
export function dropRef(db: DB, hash: string, owner: string): number {
  if (hasRef(db, hash, owner)) {
    db.prepare('UPDATE object_refs SET present = 0, seq = ? WHERE hash = ? AND owner = ?').run(nextCounter(db, 'object_seq'), hash, owner);
  }
  return db.prepare('SELECT COUNT(*) FROM object_refs WHERE hash = ? AND present = 1').pluck().get(hash) as number;
}

export function getObject(db: DB, hash: string): ObjectRow | undefined {
  return db.prepare('SELECT * FROM objects WHERE hash = ?').get(hash) as ObjectRow | undefined;
}

export function isPresent(db: DB, hash: string): boolean {
  const row = db.prepare('SELECT present FROM objects WHERE hash = ?').get(hash) as { present: number } | undefined;
  return row?.present === 1;
}

export interface InventoryPage {
  items: { hash: string; size: number; kind: ObjectKind; owner: string; seq: number; present: boolean }[];
  next: number; // the seq to ask from next time
  more: boolean;
}

/**
 * Changes after `since`, oldest first: every object's when no owner is given, else `owner`'s
 * references (what a peer may see: its own objects, never who else stores here).
 */
export function inventorySince(db: DB, since: number, limit: number, owner?: string): InventoryPage {
  const rows = (owner === undefined
    ? db.prepare('SELECT hash, size, kind, owner, seq, present FROM objects WHERE seq > ? ORDER BY seq LIMIT ?').all(since, limit + 1)
    : db.prepare('SELECT hash, size, kind, owner, seq, present FROM object_refs WHERE owner = ? AND seq > ? ORDER BY seq LIMIT ?').all(owner, since, limit + 1)) as ObjectRow[];
  const more = rows.length > limit;
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({ hash: r.hash, size: r.size, kind: r.kind, owner: r.owner, seq: r.seq, present: r.present === 1 })),
    next: page.length ? page[page.length - 1]!.seq : since,
    more,
  };
}

/** The per-object questions of an upload, with their statements compiled once (a batch asks them for every object). */
export interface ObjectLookups {
  isPresent(hash: string): boolean;
  hasRef(hash: string, owner: string): boolean;
  getObject(hash: string): ObjectRow | undefined;
  ownerUsage(owner: string): number;
}

/** Same answers as `isPresent`, `hasRef`, `getObject` and `ownerUsage`; valid while `db` is open. */
export function objectLookups(db: DB): ObjectLookups {
  const present = db.prepare('SELECT present FROM objects WHERE hash = ?').pluck();
  const ref = db.prepare('SELECT 1 FROM object_refs WHERE hash = ? AND owner = ? AND present = 1').pluck();
  const row = db.prepare('SELECT * FROM objects WHERE hash = ?');
  const usage = db.prepare('SELECT bytes FROM owner_usage WHERE owner = ?').pluck();
  return {
    isPresent: (hash) => present.get(hash) === 1,
    hasRef: (hash, owner) => ref.get(hash, owner) !== undefined,
    getObject: (hash) => row.get(hash) as ObjectRow | undefined,
    ownerUsage: (owner) => (usage.get(owner) as number | undefined) ?? 0,
  };
}

export function ownerUsage(db: DB, owner: string): number {
  // Kept by triggers on `object_refs` (migration 42): each owner is charged for its references.
  const r = db.prepare('SELECT bytes FROM owner_usage WHERE owner = ?').get(owner) as { bytes: number } | undefined;
  return r?.bytes ?? 0;
}

/** Present objects and their bytes: one row kept by triggers on `objects` (migration 46). */
export function objectTotals(db: DB): { objects: number; bytes: number } {
  const r = db.prepare('SELECT objects, bytes FROM object_totals WHERE id = 1').get() as { objects: number; bytes: number } | undefined;
  return { objects: r?.objects ?? 0, bytes: r?.bytes ?? 0 };
}

/** When `owner`'s (present) reference to the object was recorded, if it has one. */
export function refAddedAt(db: DB, hash: string, owner: string): number | undefined {
  return db.prepare('SELECT added_at FROM object_refs WHERE hash = ? AND owner = ? AND present = 1').pluck().get(hash, owner) as number | undefined;
}

/** Did `owner` hold a reference to the object that was dropped (a tombstone)? */
export function hadRef(db: DB, hash: string, owner: string): boolean {
  return db.prepare('SELECT 1 FROM object_refs WHERE hash = ? AND owner = ? AND present = 0').get(hash, owner) !== undefined;
}

/** Does anyone hold a (present) reference to the object? */
export function hasAnyRef(db: DB, hash: string): boolean {
  return db.prepare('SELECT 1 FROM object_refs WHERE hash = ? AND present = 1').get(hash) !== undefined;
}
