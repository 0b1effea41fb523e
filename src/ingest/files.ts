import { cached, type DB } from '../store/db.js';
import type { ChunkInfo } from '../formats/manifest.js';
import { isHash } from '../crypto/encoding.js';
import { isAbsolute, resolve } from 'node:path';
import { GroveError, notFound } from '../errors.js';

// The `files` and `file_chunks` tables: the versions of this cell's own files. A version is
// identified by (path, version) and by its manifest hash. Queries only; the ingest pipeline
// decides what to write.

export interface FileVersion {
  id: number;
  path: string;
  name: string;
  version: number;
  size: number;
  file_hash: string;
  manifest_hash: string;
  chunks: number;
  added_at: number;
}

export function latestVersion(db: DB, path: string): FileVersion | undefined {
  return cached(db, 'SELECT * FROM files WHERE path = ? ORDER BY version DESC LIMIT 1').get(path) as FileVersion | undefined;
}

export function versionsOf(db: DB, path: string): FileVersion[] {
  return db.prepare('SELECT * FROM files WHERE path = ? ORDER BY version').all(path) as FileVersion[];
}

export function chunksOf(db: DB, manifestHash: string): ChunkInfo[] {
  return (db.prepare('SELECT idx, hash, size FROM file_chunks WHERE manifest_hash = ? ORDER BY idx').all(manifestHash) as { idx: number; hash: string; size: number }[])
    .map((r) => ({ hash: r.hash, size: r.size, index: r.idx }));
}

export function byManifest(db: DB, manifestHash: string): FileVersion | undefined {
  return db.prepare('SELECT * FROM files WHERE manifest_hash = ? ORDER BY id LIMIT 1').get(manifestHash) as FileVersion | undefined;
}

/** Inserts one version and its chunk list (call inside the add transaction). */
export function insertVersion(db: DB, v: Omit<FileVersion, 'id'>, chunks: ChunkInfo[]): void {
  cached(db, `INSERT INTO files(path, name, version, size, file_hash, manifest_hash, chunks, added_at)
    VALUES (@path, @name, @version, @size, @file_hash, @manifest_hash, @chunks, @added_at)`).run(v);
  const ins = cached(db, 'INSERT OR IGNORE INTO file_chunks(manifest_hash, idx, hash, size) VALUES (?, ?, ?, ?)');
  for (const c of chunks) ins.run(v.manifest_hash, c.index, c.hash, c.size);
}

/** Every version, or only the latest one of each path; ordered by path, then version. */
export function listVersions(db: DB, opts: { versions?: boolean } = {}): FileVersion[] {
  const sql = opts.versions
    ? 'SELECT * FROM files ORDER BY path, version'
    : `SELECT f.* FROM files f JOIN (SELECT path, MAX(version) AS v FROM files GROUP BY path) l
         ON f.path = l.path AND f.version = l.v ORDER BY f.path`;
  return db.prepare(sql).all() as FileVersion[];
}

/**
 * `listVersions` a page at a time, in the same order: each page starts after the last row of
 * the previous one (an index seek), so a listing of 100 000 files never holds them all.
 */
export function* versionPages(db: DB, opts: { versions?: boolean; pageSize?: number } = {}): Generator<FileVersion[]> {
  const size = opts.pageSize ?? 500;
  const next = opts.versions
    ? db.prepare('SELECT * FROM files WHERE (path, version) > (?, ?) ORDER BY path, version LIMIT ?')
    : db.prepare(`SELECT f.* FROM files f WHERE (f.path, f.version) > (?, ?)
        AND f.version = (SELECT MAX(version) FROM files x WHERE x.path = f.path) ORDER BY f.path, f.version LIMIT ?`);
  let after: [string, number] = ['', -1];
  for (;;) {
    const page = next.all(after[0], after[1], size) as FileVersion[];
    if (page.length) yield page;
    if (page.length < size) return;
    const last = page[page.length - 1]!;
    after = [last.path, last.version];
  }
}

// isHash() narrows to string; on an already-string query that would make the else branch `never`.
function isManifestHash(q: string): boolean {
  return isHash(q);
}

/**
 * Resolves what a user typed (`grove get`): a manifest hash, an absolute (or ./relative)
 * path, or a file name. `version` picks that version of the path (default: the latest).
 * A name shared by several paths is ambiguous: the error lists them.
 */
export function resolveFile(db: DB, query: string, version?: number, cwd = process.cwd()): FileVersion {
  if (isManifestHash(query)) {
    const v = byManifest(db, query);
    if (!v) throw notFound(`no file with manifest ${query} in this cell`);
    if (version !== undefined && v.version !== version) {
      throw new GroveError('BAD_INPUT', `manifest ${query} is version ${v.version} of ${v.path}, not version ${version}`);
    }
    return v;
  }
  let path: string | undefined;
  if (isAbsolute(query) || query.includes('/')) {
    path = resolve(cwd, query);
    if (!latestVersion(db, path)) throw notFound(`no file added from ${path}`);
  } else {
    const paths = (db.prepare('SELECT DISTINCT path FROM files WHERE name = ? ORDER BY path').all(query) as { path: string }[]).map((r) => r.path);
    if (paths.length === 0) throw notFound(`no file named ${query} (see \`grove ls\`)`);
    if (paths.length > 1) {
      throw new GroveError('CONFLICT', `${query} is ambiguous; give one of these paths: ${paths.join(', ')}`, { paths });
    }
    path = paths[0]!;
  }
  if (version === undefined) return latestVersion(db, path)!;
  const v = db.prepare('SELECT * FROM files WHERE path = ? AND version = ?').get(path, version) as FileVersion | undefined;
  if (!v) {
    const have = versionsOf(db, path).map((x) => x.version);
    throw notFound(`${path} has no version ${version} (versions: ${have.join(', ')})`);
  }
  return v;
}

/** Every manifest hash of this cell's own files. */
export function manifestHashes(db: DB): Set<string> {
  return new Set((db.prepare('SELECT manifest_hash FROM files').all() as { manifest_hash: string }[]).map((r) => r.manifest_hash));
}

/** Is `hash` the manifest of one of our versions? */
export function isOwnManifest(db: DB, hash: string): boolean {
  return db.prepare('SELECT 1 FROM files WHERE manifest_hash = ? LIMIT 1').get(hash) !== undefined;
}

/** `isOwnManifest` and `isOwnChunk` with their statements compiled once (for many objects in a row). */
export function ownFileLookups(db: DB): { isOwnManifest(hash: string): boolean; isOwnChunk(hash: string): boolean } {
  const manifest = db.prepare('SELECT 1 FROM files WHERE manifest_hash = ? LIMIT 1').pluck();
  const chunk = db.prepare('SELECT 1 FROM file_chunks WHERE hash = ? LIMIT 1').pluck();
  return { isOwnManifest: (hash) => manifest.get(hash) !== undefined, isOwnChunk: (hash) => chunk.get(hash) !== undefined };
}

/** Is `hash` a chunk of one of our versions? */
export function isOwnChunk(db: DB, hash: string): boolean {
  return db.prepare('SELECT 1 FROM file_chunks WHERE hash = ? LIMIT 1').get(hash) !== undefined;
}

/**
 * Objects our versions name (manifests and chunks) that are not present here, at most
 * `limit` of them: memory stays bounded however many are missing (after a restore, all).
 */
export function missingOwnObjects(db: DB, limit = 10_000): string[] {
  return db.prepare(`
    SELECT DISTINCT x.hash FROM (
      SELECT f.manifest_hash AS hash FROM files f
      UNION ALL
      SELECT fc.hash AS hash FROM files f JOIN file_chunks fc ON fc.manifest_hash = f.manifest_hash
    ) x WHERE NOT EXISTS (SELECT 1 FROM objects o WHERE o.hash = x.hash AND o.present = 1) LIMIT ?`).pluck().all(limit) as string[];
}

/** The highest version id: it moves whenever a version is added (`grove add`, restore, undelete). */
export function lastVersionId(db: DB): number {
  return (db.prepare('SELECT MAX(id) FROM files').pluck().get() as number | null) ?? 0;
}

/** Stored bytes of each of these chunks of our files (plaintext size + the 16-byte tag), where known. */
export function chunkStoredSizes(db: DB, hashes: readonly string[]): Map<string, number> {
  const size = db.prepare('SELECT MAX(size) FROM file_chunks WHERE hash = ?').pluck();
  const out = new Map<string, number>();
  for (const h of hashes) {
    const n = size.get(h) as number | null;
    if (n !== null && n !== undefined) out.set(h, n + 16);
  }
  return out;
}

/** Is `hash` one of this cell's own objects: in the catalog as ours, or named by one of our versions? */
export function isOwnObject(db: DB, hash: string, selfId: string): boolean {
  const row = db.prepare('SELECT owner FROM objects WHERE hash = ?').get(hash) as { owner: string } | undefined;
  if (row) return row.owner === selfId;
  return isOwnManifest(db, hash) || isOwnChunk(db, hash);
}

/** How many distinct paths this cell stores. */
export function pathCount(db: DB): number {
  return db.prepare('SELECT COUNT(DISTINCT path) FROM files').pluck().get() as number;
}
