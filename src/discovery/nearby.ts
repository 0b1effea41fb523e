import type { Sighting } from './records.js';

// What mDNS has seen lately (pure over plain data): the latest sighting per cell ID, expired
// after `ttlMs` unseen, at most `max` cells (the longest unseen goes first).

export interface Seen extends Sighting {
  last_seen: number;
}

export class Sightings {
  private readonly byId = new Map<string, Seen>();

  constructor(private readonly ttlMs: number, private readonly max = 64) {}

  see(s: Sighting, now: number): void {
    this.byId.delete(s.id);
    this.byId.set(s.id, { ...s, addresses: [...s.addresses], last_seen: now });
    while (this.byId.size > this.max) this.byId.delete(this.byId.keys().next().value!);
  }

  expire(now: number): void {
    for (const [id, s] of this.byId) if (now - s.last_seen > this.ttlMs) this.byId.delete(id);
  }

  list(now: number): Seen[] {
    this.expire(now);
    return [...this.byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  }
}
