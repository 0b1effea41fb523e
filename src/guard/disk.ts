import { statfs } from 'node:fs/promises';
import { statfsSync } from 'node:fs';
import { GroveError } from '../errors.js';

// Free space and the reserve (docs/protocol.md "Bounds and defences"). A holder keeps
// `storage.reserve_bytes` free for itself: its database, logs and its owner's own files.
// Peers' uploads may use only what is free above the reserve, whatever quota they have.

export interface DiskSpace {
  /** Bytes an unprivileged writer may still use on the filesystem of the home. */
  freeBytes: number;
  totalBytes: number;
}

export type DiskState = 'ok' | 'nearly_full' | 'full';

export async function diskSpace(dir: string): Promise<DiskSpace> {
  const s = await statfs(dir);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

export function diskSpaceSync(dir: string): DiskSpace {
  const s = statfsSync(dir);
  return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
}

/** Bytes peers' uploads may still take: free space above the reserve (never negative). */
export function uploadRoom(space: DiskSpace, reserveBytes: number): number {
  return Math.max(0, space.freeBytes - reserveBytes);
}

/**
 * 'full': at or below the reserve (uploads are refused). 'nearly_full': less than twice the
 * reserve, or under 5 % of the disk, is left: the owner should make room soon.
 */
export function diskState(space: DiskSpace, reserveBytes: number): DiskState {
  if (space.freeBytes <= reserveBytes) return 'full';
  if (space.freeBytes < 2 * reserveBytes || space.freeBytes < space.totalBytes * 0.05) return 'nearly_full';
  return 'ok';
}

const FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/** An error that means "no space left" (the filesystem's or SQLite's). */
export function isDiskFull(e: unknown): boolean {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && FULL_CODES.has(code);
}

export function diskFull(msg = 'this cell has no room left for uploads'): GroveError {
  return new GroveError('DISK_FULL', msg);
}

/** Rethrows a disk-full error as DISK_FULL (507), anything else unchanged. */
export function asDiskFull(e: unknown): unknown {
  return isDiskFull(e) ? diskFull() : e;
}
