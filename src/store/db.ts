import Database from 'better-sqlite3';
import { resolve } from 'node:path';
import { GroveError } from '../errors.js';
import { MIGRATIONS, type Migration } from './migrations.js';
import { walSyncer, type GroupSync } from './wal-sync.js';

export type DB = Database.Database;

export interface OpenDbOptions {
  /** The schema to bring the file up to (default: MIGRATIONS). */
  migrations?: Migration[];
  /**
   * `full`: SQLite's quick_check over the whole file, which reads every page (seconds for a
   * catalog of a million objects): the running cell does it once, at start. `schema` (the
   * default, for commands): only the header and the schema are read; a damaged page found
   * later fails the statement that reads it (SQLITE_CORRUPT).
   */
  check?: 'full' | 'schema';
}

/**
 * Opens placement.db in WAL mode and brings its schema up to date. A file that is not a
 * SQLite database (or is corrupt) is a clear error; nothing is overwritten.
 */
export function openDb(path: string, opts: OpenDbOptions = {}): DB {
  let db: DB;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('busy_timeout = 10000');
    db.pragma('foreign_keys = ON');
    migrate(db, opts.migrations ?? MIGRATIONS);
    if (opts.check === 'full') {
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(String(check));
    } else {
      db.prepare('SELECT COUNT(*) FROM sqlite_schema').get();
    }
  } catch (e) {
    if (e instanceof GroveError) throw e;
    throw new GroveError('CORRUPT', `${path} is not a usable SQLite database (${(e as Error).message.split('\n')[0]}); restore it from a backup or move it aside and run \`grove restore\``);
  }
  return db;
}

export function migrate(db: DB, migrations: Migration[]): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations.reduce((m, x) => Math.max(m, x.version), 0);
  if (current > latest) {
    throw new GroveError('CONFLICT', `placement.db schema v${current} is newer than this grove (v${latest}); upgrade grove`);
  }
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}

const statements = new WeakMap<DB, Map<string, Database.Statement>>();

/**
 * A prepared statement for `sql`, compiled once per database and kept: for the statements a
 * bulk path runs once per file or per object (compiling one costs about as much as running
 * it several times). Only for constant SQL (each text is kept for the database's life), and
 * for statements used with `.get`, `.all` and `.run` as they come:
 * a cached statement must not have its mode changed (`.pluck()`, `.raw()`), and one that is
 * busy (an open `.iterate()`) is not handed out again.
 */
export function cached(db: DB, sql: string): Database.Statement {
  let m = statements.get(db);
  if (!m) statements.set(db, (m = new Map()));
  const hit = m.get(sql);
  if (hit && !hit.busy) return hit;
  const s = db.prepare(sql);
  if (!hit) m.set(sql, s);
  return s;
}

/**
 * Runs `fn` in an IMMEDIATE transaction whose commit survives a power cut, not only a crash.
 * The database runs with `synchronous = NORMAL`, where a WAL commit is safe from a killed
 * process but may roll back if the machine loses power before the next checkpoint. Here the
 * commit is followed by an fsync of the WAL, off the main thread and shared with the durable
 * commits that land meanwhile (`walSyncer`): once the promise resolves, the commit is on disk,
 * as with SQLite's `synchronous = FULL`. For what is promised once it returns: a version
 * `grove add` reports (its file key lives only in that row), an object a holder confirms.
 *
 * If `fn` throws, nothing was recorded and that error is passed on. If the fsync fails, the
 * commit stands (other statements may already see it) but is not promised: the error is a
 * `GroveError` with `detail.committed = true`, so the caller must not undo what the rows name.
 * Must not be called inside another transaction. `syncer` replaces the WAL's (tests).
 */
export async function durably<T>(db: DB, fn: () => T, syncer?: GroupSync): Promise<T> {
  if (db.inTransaction) throw new GroveError('INTERNAL', 'a durable commit cannot run inside another transaction');
  const out = db.transaction(fn).immediate();
  if (db.memory && !syncer) return out;
  try {
    await (syncer ?? walSyncer(resolve(db.name))).sync();
  } catch (e) {
    throw new GroveError('INTERNAL', `placement.db: the commit could not be made durable (${(e as Error).message})`, { committed: true });
  }
  return out;
}

/** Whether `e` is a failed fsync after a durable commit (the rows stand). */
export function committedAnyway(e: unknown): boolean {
  return e instanceof GroveError && e.detail?.committed === true;
}

/** A value from the `meta` key-value table. */
export function getMeta(db: DB, key: string): string | undefined {
  return (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
}

export function setMeta(db: DB, key: string, value: string): void {
  db.prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
}

/** Next value of a monotonic counter kept in `meta` (call inside a transaction). */
export function nextCounter(db: DB, key: string): number {
  const next = Number(getMeta(db, key) ?? 0) + 1;
  setMeta(db, key, String(next));
  return next;
}
