import { renameSync } from 'node:fs';
import { mkdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Home } from '../home/home.js';
import type { ObjectKind } from '../store/catalog.js';
import { getObject, hasAnyRef, recordObject, recordRemoved } from '../store/catalog.js';
import { isHash } from '../crypto/encoding.js';
import { badInput } from '../errors.js';

// The trash (docs/delete.md): HOME/trash/{hash[:2]}/{hash}, outside chunks/, so nothing that
// reads chunks/ (serving, inventory, verify) sees a deleted object. Moving is a rename on the
// same file system; the objects row becomes a tombstone, so the owner's next inventory read
// learns the copy is gone. Collection is mark-and-sweep: `isReferenced` is asked again at
// collection time, and a referenced object goes back instead of being removed.

export interface TrashRow {
  hash: string;
  owner: string;
  kind: ObjectKind;
  size: number;
  trashed_at: number;
}

export function trashPath(home: Home, hash: string): string {
  if (!isHash(hash)) throw badInput('invalid object hash');
  return join(home.paths.trash, hash.slice(0, 2), hash);
}

/** Moves a present object to the trash, kept for `owner` (default: its first owner). Returns false if it was not present here. */
export async function moveToTrash(home: Home, hash: string, now: number, owner?: string): Promise<boolean> {
  const row = getObject(home.db, hash);
  if (!row || row.present !== 1) return false;
  const to = trashPath(home, hash);
  await mkdir(join(home.paths.trash, hash.slice(0, 2)), { recursive: true, mode: 0o755 });
  // One synchronous step (no await between the check and the move): another owner that stored
  // the same bytes meanwhile keeps them, by its own reference.
  return home.db.transaction(() => {
    if (owner !== undefined && hasAnyRef(home.db, hash)) return false;
    try {
      renameSync(home.objects.pathOf(hash), to);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    home.db.prepare(`INSERT INTO trash(hash, owner, kind, size, trashed_at) VALUES (?, ?, ?, ?, ?)
      ON CONFLICT(hash) DO UPDATE SET owner = excluded.owner, kind = excluded.kind, size = excluded.size, trashed_at = excluded.trashed_at`)
      .run(hash, owner ?? row.owner, row.kind, row.size, now);
    recordRemoved(home.db, hash);
    return true;
  })();
}

export function trashRow(home: Home, hash: string): TrashRow | undefined {
  return home.db.prepare('SELECT * FROM trash WHERE hash = ?').get(hash) as TrashRow | undefined;
}

/** Moves an object back from the trash into chunks/ (if it is still there). */
export async function restoreFromTrash(home: Home, hash: string, now: number): Promise<boolean> {
  const t = trashRow(home, hash);
  if (!t) return false;
  if (!home.objects.has(hash)) {
    await mkdir(join(home.objects.dir, hash.slice(0, 2)), { recursive: true, mode: 0o755 });
    try {
      await rename(trashPath(home, hash), home.objects.pathOf(hash));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        home.db.prepare('DELETE FROM trash WHERE hash = ?').run(hash);
        return false;
      }
      throw e;
    }
  } else {
    await unlink(trashPath(home, hash)).catch(() => {});
  }
  home.db.transaction(() => {
    home.db.prepare('DELETE FROM trash WHERE hash = ?').run(hash);
    recordObject(home.db, { hash, size: t.size, kind: t.kind, owner: t.owner }, now);
  })();
  return true;
}

export interface CollectResult {
  collected: string[];
  restored: string[];
  bytes: number;
}

/** Sweeps trash entries older than the grace period; referenced ones go back instead. */
export async function collectTrash(home: Home, now: number, graceMs: number, isReferenced: (t: TrashRow) => boolean): Promise<CollectResult> {
  const due = home.db.prepare('SELECT * FROM trash WHERE trashed_at <= ? ORDER BY trashed_at LIMIT 10000').all(now - graceMs) as TrashRow[];
  const out: CollectResult = { collected: [], restored: [], bytes: 0 };
  for (const t of due) {
    if (getObject(home.db, t.hash)?.present === 1) {
      // Put here again since it was trashed: the live copy stays, the trashed one goes.
      await unlink(trashPath(home, t.hash)).catch(() => {});
      home.db.prepare('DELETE FROM trash WHERE hash = ?').run(t.hash);
      continue;
    }
    if (isReferenced(t)) {
      if (await restoreFromTrash(home, t.hash, now)) out.restored.push(t.hash);
      continue;
    }
    await unlink(trashPath(home, t.hash)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    home.db.prepare('DELETE FROM trash WHERE hash = ?').run(t.hash);
    out.collected.push(t.hash);
    out.bytes += t.size;
  }
  return out;
}

/**
 * Keeps one owner's trash within `maxBytes` by collecting its oldest entries early. A holder
 * applies the owner's storage quota to its trash too: otherwise put, delete, put again would
 * let a peer keep far more than its quota on this disk for the whole grace period.
 */
export async function trimOwnerTrash(home: Home, owner: string, maxBytes: number): Promise<string[]> {
  let total = home.db.prepare('SELECT COALESCE(SUM(size), 0) FROM trash WHERE owner = ?').pluck().get(owner) as number;
  if (total <= maxBytes) return [];
  const out: string[] = [];
  for (const t of home.db.prepare('SELECT * FROM trash WHERE owner = ? ORDER BY trashed_at, hash').iterate(owner) as IterableIterator<TrashRow>) {
    if (total <= maxBytes) break;
    out.push(t.hash);
    total -= t.size;
  }
  for (const hash of out) {
    await unlink(trashPath(home, hash)).catch(() => {});
    home.db.prepare('DELETE FROM trash WHERE hash = ?').run(hash);
  }
  return out;
}
