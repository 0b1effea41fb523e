import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { Home } from '../home/home.js';
import { GroveError } from '../errors.js';

// A missing or empty placement.db beside a chunks/ full of objects (docs/operations.md
// "Lost placement.db"): starting would run with an empty catalog, the cell would neither
// list its files nor count the copies it holds for its peers. It refuses instead.

/** True when the catalog records nothing: no object, no file version, no peer. */
export function catalogIsEmpty(db: Home['db']): boolean {
  const any = (table: string) => db.prepare(`SELECT 1 FROM ${table} LIMIT 1`).get() !== undefined;
  return !any('objects') && !any('files') && !any('peers');
}

/** Objects on disk (counted up to `max`). */
async function countObjects(home: Home, max = 1_000_000): Promise<number> {
  let n = 0;
  for await (const _ of home.objects.list()) if (++n >= max) break;
  return n;
}

/** Refuses (CONFLICT) a home whose catalog is empty while chunks/ holds objects. */
export async function assertCatalogMatchesObjects(home: Home): Promise<void> {
  if (!catalogIsEmpty(home.db)) return;
  const n = await countObjects(home);
  if (n === 0) return;
  throw new GroveError('CONFLICT',
    `placement.db is missing or empty but ${home.paths.chunks} holds ${n} objects: refusing to start with an empty catalog. ` +
    'Restore placement.db from a backup, or set the objects aside with `grove start --set-aside-objects`, pair again and run `grove restore` (docs/operations.md "Lost placement.db")');
}

/**
 * Moves chunks/ to trash/chunks-<time>/ and leaves an empty chunks/, so a cell with a lost
 * catalog can start and be rebuilt from its peers. Nothing is deleted. Returns where they went.
 */
export async function setAsideObjects(home: Home, now: number): Promise<string> {
  const dest = join(home.paths.trash, `chunks-${new Date(now).toISOString().replace(/[:.]/g, '-')}`);
  await mkdir(home.paths.trash, { recursive: true, mode: 0o700 });
  await rename(home.paths.chunks, dest);
  await mkdir(home.paths.chunks, { mode: 0o755 });
  return dest;
}
