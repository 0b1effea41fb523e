import { readdir, stat, lstat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { isUtf8 } from 'node:buffer';
import { join, resolve } from 'node:path';
import { describeError } from '../errors.js';

// Expands the PATH arguments of `grove add` into regular files. Directories are walked
// recursively in name order; symbolic links are followed (a link names the file the user
// means), but a link back to a directory being walked is a loop and is skipped. Anything
// that is not a regular file or directory (FIFO, socket, device) and any name that is not
// valid UTF-8 (a manifest stores names as JSON strings, which would mangle it) is reported
// and skipped; nothing else stops.

export interface WalkedFile {
  /** Absolute path, as the user reached it (not resolved through symlinks). */
  path: string;
  size: number;
}

export interface WalkIssue {
  path: string;
  error: string;
}

export interface WalkResult {
  files: WalkedFile[];
  issues: WalkIssue[];
}

export async function walkInputs(args: string[], cwd = process.cwd()): Promise<WalkResult> {
  const files: WalkedFile[] = [];
  const issues: WalkIssue[] = [];
  const seenFiles = new Set<string>();
  const seenDirs = new Set<string>();

  const visit = async (path: string, st: Stats, ancestors: Set<string>): Promise<void> => {
    if (st.isFile()) {
      if (!seenFiles.has(path)) {
        seenFiles.add(path);
        files.push({ path, size: st.size });
      }
      return;
    }
    if (!st.isDirectory()) {
      issues.push({ path, error: `not a regular file (${kindOf(st)}), skipped` });
      return;
    }
    const id = `${st.dev}:${st.ino}`;
    if (ancestors.has(id)) {
      issues.push({ path, error: 'symbolic link loop (links back to a parent directory), skipped' });
      return;
    }
    if (seenDirs.has(id)) return; // the same directory reached again through a link
    seenDirs.add(id);
    let names: Buffer[];
    try {
      names = (await readdir(path, { encoding: 'buffer' })).sort(Buffer.compare);
    } catch (e) {
      issues.push({ path, error: describeError(e) });
      return;
    }
    const inner = new Set(ancestors).add(id);
    for (const raw of names) {
      if (!isUtf8(raw)) {
        issues.push({ path: join(path, escapeName(raw)), error: 'file name is not valid UTF-8, skipped (rename it to add it)' });
        continue;
      }
      const child = join(path, raw.toString('utf8'));
      const cst = await statFollowing(child, issues);
      if (cst) await visit(child, cst, inner);
    }
  };

  for (const arg of args) {
    const path = resolve(cwd, arg);
    const st = await statFollowing(path, issues);
    if (st) await visit(path, st, new Set());
  }
  return { files, issues };
}

/** stat() through links; a dangling link, a loop of links or EACCES becomes an issue. */
async function statFollowing(path: string, issues: WalkIssue[]): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') {
      issues.push({ path, error: 'symbolic link loop, skipped' });
    } else if (code === 'ENOENT' && (await lstat(path).then((l) => l.isSymbolicLink(), () => false))) {
      issues.push({ path, error: 'dangling symbolic link, skipped' });
    } else {
      issues.push({ path, error: describeError(e).replace(`: ${path}`, '') });
    }
    return undefined;
  }
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'character device';
  if (st.isBlockDevice()) return 'block device';
  return 'special file';
}

/** A printable form of a non-UTF-8 name: valid ASCII kept, other bytes as \xNN. */
export function escapeName(raw: Buffer): string {
  let s = '';
  for (const b of raw) s += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`;
  return s;
}
