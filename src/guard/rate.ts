// A token bucket per key (an address), in a bounded map: pairing attempts from one address
// are limited without letting many addresses grow memory (docs/protocol.md "Bounds and defences").

export interface RateLimitOptions {
  /** Attempts allowed at once (bucket size). */
  burst: number;
  /** Tokens added per second. */
  perSecond: number;
  /** Keys remembered; the least recently used is forgotten beyond it. */
  maxKeys?: number;
  clock?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly clock: () => number;
  private readonly maxKeys: number;

  constructor(private readonly o: RateLimitOptions) {
    this.clock = o.clock ?? Date.now;
    this.maxKeys = o.maxKeys ?? 10_000;
  }

  /** Takes one token for `key`; false when its bucket is empty (the attempt is refused). */
  take(key: string): boolean {
    const now = this.clock();
    const b = this.buckets.get(key) ?? { tokens: this.o.burst, at: now };
    b.tokens = Math.min(this.o.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.o.perSecond);
    b.at = now;
    this.buckets.delete(key); // re-inserted last: the map's order is least recently used first
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }
}
