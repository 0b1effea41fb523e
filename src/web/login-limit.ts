// Login attempts, rate-limited with a growing delay per client and overall (docs/dashboard.md
// "Login"). Pure policy over plain data: the server asks `check` before verifying a password
// and calls `fail`/`succeed` after. A refused attempt is not counted (it costs no PBKDF2).

export interface LoginLimitPolicy {
  /** Failures a client may have before delays start. */
  freeFailures: number;
  /** The first delay; each further failure doubles it. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures over all clients within `globalWindowMs` before a global delay applies. */
  globalFreeFailures: number;
  globalWindowMs: number;
  /** A client's failures are forgotten after this long without one. */
  forgetAfterMs: number;
  /** Clients remembered at once (the oldest is forgotten first). */
  maxClients: number;
}

export const DEFAULT_LOGIN_LIMIT: LoginLimitPolicy = {
  freeFailures: 3,
  baseDelayMs: 1_000,
  maxDelayMs: 5 * 60_000,
  globalFreeFailures: 20,
  globalWindowMs: 60_000,
  forgetAfterMs: 15 * 60_000,
  maxClients: 10_000,
};

interface ClientState {
  failures: number;
  last: number;
}

/** The delay after `failures` failures when `free` are allowed without one. */
export function growingDelay(failures: number, free: number, baseMs: number, maxMs: number): number {
  if (failures < free) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(30, failures - free));
}

export class LoginLimiter {
  private readonly clients = new Map<string, ClientState>();
  private recent: number[] = [];

  constructor(private readonly policy: LoginLimitPolicy = DEFAULT_LOGIN_LIMIT) {}

  /** 0 if the client may try now, else how many ms it must wait. */
  check(client: string, now: number): number {
    const p = this.policy;
    this.recent = this.recent.filter((t) => t > now - p.globalWindowMs);
    const c = this.state(client, now);
    const own = c ? c.last + growingDelay(c.failures, p.freeFailures, p.baseDelayMs, p.maxDelayMs) - now : 0;
    const last = this.recent[this.recent.length - 1];
    const all = last === undefined ? 0 : last + growingDelay(this.recent.length, p.globalFreeFailures, p.baseDelayMs, p.maxDelayMs) - now;
    return Math.max(0, own, all);
  }

  fail(client: string, now: number): void {
    const c = this.state(client, now) ?? { failures: 0, last: now };
    c.failures++;
    c.last = now;
    this.clients.delete(client);
    this.clients.set(client, c);
    while (this.clients.size > this.policy.maxClients) this.clients.delete(this.clients.keys().next().value!);
    this.recent.push(now);
  }

  succeed(client: string): void {
    this.clients.delete(client);
  }

  private state(client: string, now: number): ClientState | undefined {
    const c = this.clients.get(client);
    if (c && now - c.last > this.policy.forgetAfterMs) {
      this.clients.delete(client);
      return undefined;
    }
    return c;
  }
}
