import type { DB } from '../store/db.js';
import type { LsRow } from './list.js';

// One page of the Files list (the dashboard's Files page), filtered, sorted and cut in SQL: with 10 000 files the page
// must not build, sort and copy-count every row (`grove ls` does; it prints them all).
// The rows are `grove ls` rows (latest version of each path) plus the number of versions.

export interface FilesQuery {
  /** Case-insensitive substring of the name or the path ('' for all). */
  filter: string;
  offset: number;
  limit: number;
}

export function filesPage(db: DB, q: FilesQuery): { total: number; rows: (LsRow & { versions: number })[] } {
  const where = `f.version = (SELECT MAX(version) FROM files x WHERE x.path = f.path)
    AND (@filter = '' OR instr(lower(f.name), @filter) > 0 OR instr(lower(f.path), @filter) > 0)`;
  const filter = q.filter.toLowerCase();
  const total = (db.prepare(`SELECT COUNT(*) AS n FROM files f WHERE ${where}`).get({ filter }) as { n: number }).n;
  const rows = db.prepare(`SELECT f.name, f.path, f.size, f.version, f.manifest_hash, f.chunks, f.added_at,
      (SELECT COUNT(*) FROM files x WHERE x.path = f.path) AS versions
    FROM files f WHERE ${where} ORDER BY f.name, f.path LIMIT @limit OFFSET @offset`).all({ filter, limit: q.limit, offset: q.offset }) as (LsRow & { versions: number })[];
  return { total, rows };
}
