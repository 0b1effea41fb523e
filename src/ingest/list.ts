import type { DB } from '../store/db.js';
import { listVersions, versionPages, type FileVersion } from './files.js';

// Rows of `grove ls`. One place builds them, so features add columns here (replication:
// "copies", "desired", "holders") and both the CLI and the dashboard get them.

export interface LsRow {
  name: string;
  path: string;
  size: number;
  version: number;
  /** SHA-256 of the file's plaintext, hex: what a reader needs to derive the file key. */
  file_hash: string;
  manifest_hash: string;
  chunks: number;
  added_at: number;
}

export function lsRow(v: FileVersion): LsRow {
  return {
    name: v.name, path: v.path, size: v.size, version: v.version,
    file_hash: v.file_hash, manifest_hash: v.manifest_hash, chunks: v.chunks, added_at: v.added_at,
  };
}

/** The latest version of every path, or every version with `versions`. */
export function lsRows(db: DB, opts: { versions?: boolean } = {}): LsRow[] {
  return listVersions(db, opts).map(lsRow);
}

/** `lsRows` a page at a time (see versionPages). */
export function* lsPages(db: DB, opts: { versions?: boolean; pageSize?: number } = {}): Generator<LsRow[]> {
  for (const page of versionPages(db, opts)) yield page.map(lsRow);
}

/**
 * What the columns of a listing need to be wide enough: the longest name and the highest
 * version, each read from its own index, not from every version.
 */
export function listWidths(db: DB): { name: number; version: number } {
  const name = db.prepare('SELECT MAX(length(name)) FROM files').pluck().get() as number | null;
  const version = db.prepare('SELECT MAX(version) FROM files').pluck().get() as number | null;
  return { name: name ?? 0, version: version ?? 0 };
}
