import { diskSpaceSync, diskState, type DiskState } from './disk.js';

/** What `grove status` reports about the disk (free bytes, the reserve, and the verdict). */
export interface DiskStatus {
  free_bytes: number;
  total_bytes: number;
  reserve_bytes: number;
  state: DiskState;
}

export function diskStatus(dir: string, reserveBytes: number): DiskStatus | undefined {
  try {
    const space = diskSpaceSync(dir);
    return { free_bytes: space.freeBytes, total_bytes: space.totalBytes, reserve_bytes: reserveBytes, state: diskState(space, reserveBytes) };
  } catch {
    return undefined; // statfs unsupported here: say nothing rather than something wrong
  }
}

/** One line for `grove status` when the disk needs attention, else undefined. */
export function diskWarning(d: DiskStatus | undefined, fmt: (n: number) => string): string | undefined {
  if (!d || d.state === 'ok') return undefined;
  const left = `${fmt(d.free_bytes)} free, ${fmt(d.reserve_bytes)} reserved`;
  return d.state === 'full'
    ? `  disk:     FULL (${left}): peers' uploads are refused; free some space`
    : `  disk:     nearly full (${left}): free some space soon`;
}
