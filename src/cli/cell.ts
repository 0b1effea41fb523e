import type { Command } from 'commander';
import { createCell, type Cell } from '../cell.js';
import { homePaths } from '../home/paths.js';
import { viaDaemonOr } from '../daemon/control-client.js';
import { homeDir } from './context.js';
import { fetchFromPeers } from '../sync/repair.js';

// Commands that act as the cell: through the running daemon when there is one (so its
// in-memory state and records stay the single writer), else with a cell built in this
// process that never listens.

/** Builds the cell of this home without starting it, runs `fn`, and closes it. */
export async function withOfflineCell<T>(cmd: Command, fn: (cell: Cell) => Promise<T> | T): Promise<T> {
  const cell = await createCell({ home: homeDir(cmd), control: false, intervals: { probeMs: 0 } });
  try {
    return await fn(cell);
  } finally {
    await cell.stop();
  }
}

/** Runs control command `name` on the running cell, or `offline` on an offline cell. */
export function daemonOr<T>(cmd: Command, name: string, params: Record<string, unknown>, offline: (cell: Cell) => Promise<T> | T): Promise<T> {
  return viaDaemonOr<T>(homePaths(homeDir(cmd)), name, params, () => withOfflineCell(cmd, offline));
}

/**
 * A fetchObject for restores (docs/design.md §4): the first missing or corrupt object builds an
 * offline cell and asks its holders; nothing is built when every object is here.
 */
export function lazyPeerFetch(cmd: Command): { fetch: (hash: string) => Promise<Buffer | undefined>; close: () => Promise<void> } {
  let cell: Promise<Cell> | undefined;
  return {
    fetch: async (hash) => {
      cell ??= createCell({ home: homeDir(cmd), control: false, intervals: { probeMs: 0, syncMs: 0 } });
      return fetchFromPeers((await cell).sync.fetch(), hash);
    },
    close: async () => {
      if (cell) await (await cell).stop();
    },
  };
}
