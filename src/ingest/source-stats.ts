import type { BigIntStats } from 'node:fs';
import { cached, type DB } from '../store/db.js';

// The `source_stats` table: the stat of each added path when its latest version was
// recorded. `grove add` of a path whose size, mtime, ctime, inode and device all match, and
// whose recorded version is still the latest, is unchanged without reading a byte of it (the
// rule backup tools use). Writes go through the add transaction; nothing else writes here.

export interface SourceStat {
  size: number;
  mtime_ns: string;
  ctime_ns: string;
  ino: string;
  dev: string;
}

/**
 * A stat taken this close to the moment it was read is "racily clean": a write in the same
 * timestamp tick could change the file without changing its times, so it is not recorded.
 * Filesystems with coarse timestamps (1 s, 2 s on FAT) make the margin a couple of seconds.
 */
export const RACY_MARGIN_NS = 2_000_000_000n;

export function statOf(st: BigIntStats): SourceStat {
  return { size: Number(st.size), mtime_ns: String(st.mtimeNs), ctime_ns: String(st.ctimeNs), ino: String(st.ino), dev: String(st.dev) };
}

/** Whether a stat is old enough, at `readAtNs` (epoch ns), to be trusted next time. */
export function trustworthy(st: BigIntStats, readAtNs: bigint): boolean {
  return st.mtimeNs + RACY_MARGIN_NS <= readAtNs && st.ctimeNs + RACY_MARGIN_NS <= readAtNs;
}

export function sameStat(a: SourceStat, b: SourceStat): boolean {
  return a.size === b.size && a.mtime_ns === b.mtime_ns && a.ctime_ns === b.ctime_ns && a.ino === b.ino && a.dev === b.dev;
}

/** The manifest a path had when it last matched `st`, if it is recorded and matches. */
export function unchangedManifest(db: DB, path: string, st: SourceStat): string | undefined {
  const row = cached(db, 'SELECT * FROM source_stats WHERE path = ?').get(path) as (SourceStat & { manifest_hash: string }) | undefined;
  return row && sameStat(row, st) ? row.manifest_hash : undefined;
}

/** Records (or, with `st` undefined, forgets) the stat of a path's latest version. */
export function recordSourceStat(db: DB, path: string, manifestHash: string, st: SourceStat | undefined): void {
  if (!st) {
    cached(db, 'DELETE FROM source_stats WHERE path = ?').run(path);
    return;
  }
  cached(db, `INSERT INTO source_stats(path, size, mtime_ns, ctime_ns, ino, dev, manifest_hash) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns, ctime_ns = excluded.ctime_ns,
      ino = excluded.ino, dev = excluded.dev, manifest_hash = excluded.manifest_hash`)
    .run(path, st.size, st.mtime_ns, st.ctime_ns, st.ino, st.dev, manifestHash);
}
