import type { DB } from '../store/db.js';

// The tables of watched folders (migration 44, docs/watch.md): `watched_folders` (the roots
// the user asked for) and `watch_index` (per file: the size, mtime and inode it had when it
// was last ingested, so a catch-up scan reads only what changed, and when it vanished).

export interface WatchedFolder {
  root: string;
  added_at: number;
  /** st_dev of the root when it was watched (decimal string). */
  dev: string;
}

/** What a file looked like when it was last ingested (or found gone). */
export interface IndexEntry {
  path: string;
  root: string;
  size: number;
  /** st_mtime in nanoseconds, as a decimal string (exceeds 2^53). */
  mtime_ns: string;
  ino: string;
  manifest_hash: string | null;
  ingested_at: number;
  /** When the file was found removed from its folder (null: present). */
  gone_at: number | null;
}

/** The stat fields the index compares. */
export interface FileStamp {
  size: number;
  mtime_ns: string;
  ino: string;
}

export function listFolders(db: DB): WatchedFolder[] {
  return db.prepare('SELECT root, added_at, dev FROM watched_folders ORDER BY root').all() as WatchedFolder[];
}

export function addFolder(db: DB, root: string, dev: string, now: number): boolean {
  return db.prepare('INSERT OR IGNORE INTO watched_folders(root, added_at, dev) VALUES (?, ?, ?)').run(root, now, dev).changes === 1;
}

/** Stops watching a root; its index goes too (its files stay in Grove). */
export function removeFolder(db: DB, root: string): boolean {
  return db.transaction(() => {
    db.prepare('DELETE FROM watch_index WHERE root = ?').run(root);
    return db.prepare('DELETE FROM watched_folders WHERE root = ?').run(root).changes === 1;
  })();
}

export function indexEntry(db: DB, path: string): IndexEntry | undefined {
  return db.prepare('SELECT * FROM watch_index WHERE path = ?').get(path) as IndexEntry | undefined;
}

export function indexOf(db: DB, root: string): Map<string, IndexEntry> {
  const rows = db.prepare('SELECT * FROM watch_index WHERE root = ?').all(root) as IndexEntry[];
  return new Map(rows.map((r) => [r.path, r]));
}

export function recordIngested(db: DB, root: string, path: string, stamp: FileStamp, manifestHash: string, now: number): void {
  db.prepare(`INSERT INTO watch_index(path, root, size, mtime_ns, ino, manifest_hash, ingested_at, gone_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, NULL)
    ON CONFLICT(path) DO UPDATE SET root = excluded.root, size = excluded.size, mtime_ns = excluded.mtime_ns,
      ino = excluded.ino, manifest_hash = excluded.manifest_hash, ingested_at = excluded.ingested_at, gone_at = NULL`)
    .run(path, root, stamp.size, stamp.mtime_ns, stamp.ino, manifestHash, now);
}

/** Marks a file removed at its source; returns whether it was present before. */
export function markGone(db: DB, path: string, now: number): boolean {
  return db.prepare('UPDATE watch_index SET gone_at = ? WHERE path = ? AND gone_at IS NULL').run(now, path).changes === 1;
}

/** When a watched file vanished from its folder, if it did: one lookup per path, for listings. */
export function goneAt(db: DB): (path: string) => number | null {
  const stmt = db.prepare('SELECT gone_at FROM watch_index WHERE path = ?').pluck();
  return (path) => (stmt.get(path) as number | null | undefined) ?? null;
}

/**
 * Files of a watched folder and how many are gone at source (`grove status`): counted on the
 * index of roots (no row is read) and on the small index of gone files (migration 46).
 */
export function folderCounts(db: DB, root: string): { files: number; gone: number } {
  const files = db.prepare('SELECT COUNT(*) FROM watch_index WHERE root = ?').pluck().get(root) as number;
  const gone = db.prepare('SELECT COUNT(*) FROM watch_index WHERE root = ? AND gone_at IS NOT NULL').pluck().get(root) as number;
  return { files, gone };
}

/** Whether a file's stat matches what the index recorded at its last ingest. */
export function unchanged(entry: IndexEntry | undefined, stamp: FileStamp): boolean {
  return entry !== undefined && entry.gone_at === null && entry.size === stamp.size && entry.mtime_ns === stamp.mtime_ns && entry.ino === stamp.ino;
}

/**
 * The catch-up plan for one root (pure): which of the files found need ingesting (new or
 * changed since the index), and which indexed files were not found (gone at source).
 */
export function planCatchUp(found: Map<string, FileStamp>, index: Map<string, IndexEntry>): { ingest: string[]; gone: string[] } {
  const ingest: string[] = [];
  for (const [path, stamp] of found) if (!unchanged(index.get(path), stamp)) ingest.push(path);
  const gone: string[] = [];
  for (const [path, e] of index) if (e.gone_at === null && !found.has(path)) gone.push(path);
  return { ingest: ingest.sort(), gone: gone.sort() };
}
