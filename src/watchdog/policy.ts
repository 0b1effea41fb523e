// Restart policy of the watchdog (docs/operations.md "The watchdog"): pure functions over
// the times of recent crashes, so tests pin every number.

export interface RestartPolicy {
  /** First backoff (ms); doubles per consecutive crash. */
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** Give up after this many crashes within windowMs. */
  maxCrashes: number;
  windowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { initialBackoffMs: 1000, maxBackoffMs: 60_000, maxCrashes: 5, windowMs: 60_000 };

/** Crash times still inside the window at `now`. */
export function recentCrashes(crashes: readonly number[], now: number, p: RestartPolicy): number[] {
  return crashes.filter((t) => now - t < p.windowMs);
}

export function shouldGiveUp(crashes: readonly number[], now: number, p: RestartPolicy): boolean {
  return recentCrashes(crashes, now, p).length >= p.maxCrashes;
}

/** Wait before the next start after `consecutive` crashes in a row (1 → initial). */
export function backoffMs(consecutive: number, p: RestartPolicy): number {
  if (consecutive <= 0) return 0;
  const exp = Math.min(consecutive - 1, 30);
  return Math.min(p.maxBackoffMs, p.initialBackoffMs * 2 ** exp);
}
