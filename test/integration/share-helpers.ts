import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { SealPool } from '../../src/ingest/pool.js';
import { addFile, type AddResult } from '../../src/ingest/add.js';
import type { RoundSummary } from '../../src/sync/round.js';
import type { TestCell } from '../helpers/cells.js';

// Shared by the sharing and chat integration tests: a scratch directory for source files,
// adding a file to a cell, and one sync round of a cell (with its exchanges).

export interface Scratch {
  dir: string;
  pool: SealPool;
  /** Writes `bytes` to DIR/name and adds it to the cell (a new version if it changed). */
  add(cell: TestCell, name: string, bytes: Buffer): Promise<AddResult>;
}

export async function scratch(t: TestContext): Promise<Scratch> {
  const dir = await mkdtemp(join(tmpdir(), 'grove-share-src-'));
  const pool = new SealPool({ workers: 1 });
  t.after(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir,
    pool,
    async add(cell, name, bytes) {
      const path = join(dir, `${cell.name}-${name}`);
      await writeFile(path, bytes);
      return addFile({ home: cell.cell.home, pool, now: cell.clock.now }, path, { sourcePath: join(dir, name) });
    },
  };
}

/** One sync round of `tc`, exactly as the daemon runs it (`grove sync`), exchanges included. */
export function syncRound(tc: TestCell): Promise<RoundSummary> {
  return tc.cell.sync.service.runNow();
}
