import { realpathSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { relative, resolve, isAbsolute } from 'node:path';
import type { DB } from '../store/db.js';
import { badInput, GroveError } from '../errors.js';
import { addFolder, listFolders, removeFolder, type WatchedFolder } from './folders.js';

// Watched roots: checking a new one, and telling whether a watched one is still there.
// A root that is missing, not a directory, or on another device than when it was watched
// (its disk is not mounted: the empty mount point is on the parent file system) is
// "unavailable": its folder pauses, and nothing under it is ever marked gone.

export type RootStatus = { ok: true } | { ok: false; why: string };

function inside(child: string, parent: string): boolean {
  const r = relative(parent, child);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/** Resolves and checks DIR for `grove watch`, then records it. Returns the stored root. */
export function watchRoot(db: DB, homeRoot: string, dir: string, now: number): { root: string; added: boolean } {
  let root: string;
  try {
    root = realpathSync(resolve(dir));
  } catch {
    throw badInput(`${dir}: no such directory`);
  }
  const st = statSync(root, { bigint: true });
  if (!st.isDirectory()) throw badInput(`${dir}: not a directory`);
  const home = (() => { try { return realpathSync(homeRoot); } catch { return resolve(homeRoot); } })();
  if (inside(home, root) || inside(root, home)) {
    throw badInput(`${root}: a watched folder must not contain the grove home (${home}) or be inside it`);
  }
  for (const f of listFolders(db)) {
    if (f.root === root) return { root, added: false };
    if (inside(root, f.root) || inside(f.root, root)) {
      throw new GroveError('CONFLICT', `${root} overlaps the watched folder ${f.root}; unwatch that one first`);
    }
  }
  return { root, added: addFolder(db, root, st.dev.toString(), now) };
}

/** Resolves DIR for `grove unwatch` (the folder may be gone) and forgets it. */
export function unwatchRoot(db: DB, dir: string): string {
  const abs = resolve(dir);
  let real = abs;
  try { real = realpathSync(abs); } catch { /* gone: match the stored path as typed */ }
  for (const cand of [real, abs]) if (removeFolder(db, cand)) return cand;
  throw badInput(`${abs} is not watched (see \`grove watch --list\`)`);
}

export async function rootStatus(f: WatchedFolder): Promise<RootStatus> {
  try {
    const st = await stat(f.root, { bigint: true });
    if (!st.isDirectory()) return { ok: false, why: 'it is no longer a directory' };
    if (st.dev.toString() !== f.dev) return { ok: false, why: 'it is on another device than when it was watched (is its disk mounted?)' };
    return { ok: true };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, why: 'it is gone (unmounted or removed)' };
    return { ok: false, why: `it cannot be read (${code ?? 'error'})` };
  }
}

/** The message for a watcher that hit the kernel's inotify limits, with the fix. */
export function watchLimitMessage(root: string, code: string): string | undefined {
  if (code !== 'ENOSPC' && code !== 'EMFILE') return undefined;
  return `the system's inotify limit is reached while watching ${root} (${code}): raise it with ` +
    '`sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=1024` ' +
    '(and put those lines in /etc/sysctl.d/90-grove.conf to keep them); until then changes there are ' +
    'picked up only by the periodic rescan (watch.rescan_s)';
}
