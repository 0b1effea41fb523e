// Relay limits (docs/protocol.md "Relay limits"): plain data and pure policy, no I/O.

export interface RelayLimits {
  /** Largest binary data frame (bytes). */
  maxFrame: number;
  /** Time to complete the hello after the WebSocket opens. */
  handshakeMs: number;
  /** A caller waits this long for the callee to accept a stream. */
  acceptMs: number;
  /** WebSocket ping interval; a connection that missed the previous pong is cut. */
  pingMs: number;
  /** A stream with no data in either direction for this long is closed. */
  streamIdleMs: number;
  /** Bytes queued towards one side of a stream before its source is paused. */
  queueBytes: number;
  /** Bytes queued in the whole relay before every source is paused (memory stays flat). */
  totalQueueBytes: number;
  /** Per-cell forwarding rate (bytes/s, burst = one second's worth). */
  cellBytesPerSec: number;
  /** Whole-relay forwarding rate (bytes/s). */
  totalBytesPerSec: number;
  /** Open WebSockets per client IP. */
  perIp: number;
  /** Streams a cell may be part of at once (as caller or callee). */
  streamsPerCell: number;
  /** Open WebSockets in all; also kept below the file descriptor limit. */
  maxConnections: number;
}

export const DEFAULT_LIMITS: RelayLimits = {
  maxFrame: 64 * 1024,
  handshakeMs: 10_000,
  acceptMs: 10_000,
  pingMs: 30_000,
  streamIdleMs: 5 * 60_000,
  // The kernel's socket buffers carry the bytes in flight; the relay's own queue only
  // absorbs a burst while a reader is behind, and what it holds is memory.
  queueBytes: 64 * 1024,
  totalQueueBytes: 4 * 1024 * 1024,
  cellBytesPerSec: 64 * 1024 * 1024,
  totalBytesPerSec: 256 * 1024 * 1024,
  perIp: 64,
  streamsPerCell: 64,
  maxConnections: 4096,
};

/** Descriptors kept free for the process itself (logs, listener, accept() headroom). */
export const FD_RESERVE = 64;

/** Most connections that fit in `fdLimit` descriptors: each WebSocket holds one. */
export function connectionCap(configured: number, fdLimit: number | undefined): number {
  if (fdLimit === undefined || !Number.isFinite(fdLimit)) return configured;
  return Math.max(0, Math.min(configured, Math.floor(fdLimit) - FD_RESERVE));
}

/** The soft "Max open files" limit from /proc/self/limits' text, if present. */
export function parseFdLimit(procLimits: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(procLimits);
  if (!m) return undefined;
  return m[1] === 'unlimited' ? undefined : Number(m[1]);
}

/**
 * A token bucket with debt: take() always succeeds and returns how long the taker must pause
 * (ms) so the average rate stays at `rate` bytes/s with bursts up to `burst` bytes.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(private readonly rate: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.last = now;
  }

  take(n: number, now: number): number {
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }
}

/** Counts per key with a cap: the bookkeeping behind per-IP and per-cell caps. */
export class Counter {
  private readonly counts = new Map<string, number>();

  constructor(private readonly cap: number) {}

  /** Adds one for `key` unless it is at the cap; returns whether it was added. */
  tryAdd(key: string): boolean {
    const n = this.counts.get(key) ?? 0;
    if (n >= this.cap) return false;
    this.counts.set(key, n + 1);
    return true;
  }

  remove(key: string): void {
    const n = (this.counts.get(key) ?? 0) - 1;
    if (n <= 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

export type Collection = 'minor' | 'major';

/**
 * When to collect garbage while forwarding. Every forwarded frame was a fresh buffer (a
 * socket read, a frame joined from two reads) that is garbage once written, but V8 only
 * collects when its young generation fills with JavaScript objects or external memory grows
 * 64 MB past the last full collection: a busy relay would otherwise sit on tens of megabytes
 * of dead frames. A young-generation collection after every `minorBytes` frees them (it
 * costs well under a millisecond); a full one after every `majorBytes` frees those that
 * lived long enough to be promoted (frames that waited in a queue).
 */
export class GcPacer {
  private sinceMinor = 0;
  private sinceMajor = 0;

  constructor(private readonly minorBytes: number, private readonly majorBytes: number) {}

  /** Counts `n` forwarded bytes; says which collection is due, if any. */
  add(n: number): Collection | undefined {
    this.sinceMinor += n;
    this.sinceMajor += n;
    if (this.sinceMajor >= this.majorBytes) {
      this.sinceMajor = 0;
      this.sinceMinor = 0;
      return 'major';
    }
    if (this.sinceMinor >= this.minorBytes) {
      this.sinceMinor = 0;
      return 'minor';
    }
    return undefined;
  }
}
