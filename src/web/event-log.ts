import { randomBytes } from 'node:crypto';

// The dashboard's live updates (docs/dashboard.md "Live updates"): a numbered log of what
// changed, sent as server-sent events. Event IDs are `{boot}-{seq}`; a client reconnecting
// with Last-Event-ID gets what it missed, or a `reset` (refetch everything) when the ID is
// from another run or older than what the log keeps. Events name what changed, not the data:
// the page refetches it through the authenticated API.

export type DashboardEventType = 'overview' | 'files' | 'feed' | 'chat' | 'peers' | 'sync' | 'settings' | 'reset';

export interface DashboardEvent {
  id: string;
  type: DashboardEventType;
  data: Record<string, unknown>;
}

export class EventLog {
  readonly boot = randomBytes(6).toString('hex');
  private seq = 0;
  private readonly buffer: DashboardEvent[] = [];
  private readonly listeners = new Set<(e: DashboardEvent) => void>();

  constructor(private readonly keep = 500) {}

  publish(type: DashboardEventType, data: Record<string, unknown> = {}): DashboardEvent {
    const e: DashboardEvent = { id: `${this.boot}-${++this.seq}`, type, data };
    this.buffer.push(e);
    if (this.buffer.length > this.keep) this.buffer.shift();
    for (const l of this.listeners) l(e);
    return e;
  }

  /** Events after `lastId`; a single `reset` if they cannot all be given. */
  since(lastId: string | undefined): DashboardEvent[] {
    if (!lastId) return [];
    const m = /^([0-9a-f]{12})-(\d{1,15})$/.exec(lastId);
    const reset = [{ id: `${this.boot}-${this.seq}`, type: 'reset' as const, data: {} }];
    if (!m || m[1] !== this.boot) return reset;
    const n = Number(m[2]);
    if (n > this.seq) return reset;
    const first = this.buffer[0];
    if (n === this.seq) return [];
    if (!first || n + 1 < Number(first.id.split('-')[1])) return reset;
    return this.buffer.filter((e) => Number(e.id.split('-')[1]) > n);
  }

  subscribe(fn: (e: DashboardEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get subscribers(): number {
    return this.listeners.size;
  }
}

/** One event in text/event-stream framing. */
export function sseFrame(e: DashboardEvent): string {
  return `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`;
}
