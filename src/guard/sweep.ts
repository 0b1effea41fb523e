import type { Logger } from 'pino';
import type { ObjectStore } from '../store/objects.js';

/** Temp files older than this are left by a killed writer: a live write finishes in seconds. */
export const STALE_TEMP_MS = 10 * 60_000;

/**
 * At start: removes temp files a killed holder or `grove add` left in chunks/ (a torn upload
 * is never renamed into place, but its temp file stayed). Recent ones may belong to a write
 * still under way in another process and are kept.
 */
export async function sweepStaleTemp(objects: ObjectStore, now: number, log?: Logger): Promise<number> {
  const n = await objects.sweepTemp({ olderThanMs: STALE_TEMP_MS, now });
  if (n > 0) log?.info({ removed: n }, 'removed temp files left by an interrupted write');
  return n;
}
