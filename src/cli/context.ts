import type { Command } from 'commander';
import { resolveHome } from '../home/paths.js';
import { openHome, type Home } from '../home/home.js';
import { globals } from './output.js';

// Shared CLI plumbing: the output helpers (output.ts) and opening the home.

export { globals, wantsJson, emit, fail, formatBytes, type GlobalOptions } from './output.js';

export function homeDir(cmd: Command): string {
  return resolveHome(globals(cmd).home);
}

/** Opens the home for the duration of `fn` and always closes it. */
export async function withHome<T>(cmd: Command, fn: (home: Home) => Promise<T> | T): Promise<T> {
  const home = openHome(homeDir(cmd));
  try {
    return await fn(home);
  } finally {
    home.close();
  }
}
