import type { Command } from 'commander';
import { createCell, type Cell } from '../cell.js';
import { homePaths } from '../home/paths.js';
import { viaDaemonOr } from '../daemon/control-client.js';
import { homeDir } from './context.js';

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
