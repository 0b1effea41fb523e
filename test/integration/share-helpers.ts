import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { SealPool } from '../../src/ingest/pool.js';
import { addFile, type AddResult } from '../../src/ingest/add.js';
import { runRound, type RoundSummary } from '../../src/sync/round.js';
import { probePeer, peerView } from '../../src/peers/probe.js';
import type { TestCell } from '../helpers/cells.js';

// Shared by the sharing and chat integration tests: a scratch directory for source files,
// adding a file to a cell, and one real sync round of a cell (with its exchanges).

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

/** One sync round of `tc` over every peer, as the daemon would run it. */
export function syncRound(tc: TestCell): Promise<RoundSummary> {
  const cell = tc.cell;
  return runRound({
    selfId: cell.id,
    db: cell.home.db,
    objects: cell.home.objects,
    client: cell.client,
    clock: cell.clock,
    log: cell.log,
    factor: 1,
    offlineGraceMs: 3600_000,
    listPeers: () => cell.peers.list().map((p) => ({ id: p.id, name: p.name, preferred: p.preferred })),
    benchmarkDue: async () => {},
    probe: async (peerId) => {
      const h = await probePeer(cell, peerId);
      const best = peerView(cell, cell.peers.get(peerId)!).best_route;
      return h.online && best ? { reachable: true, url: best } : { reachable: false };
    },
    lastSeen: (peerId) => cell.records.peerHealth(peerId)?.last_ok ?? undefined,
    exchanges: cell.exchanges,
  });
}
