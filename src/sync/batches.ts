import { BATCH_KINDS, BATCH_MAGIC, FRAME_HEAD_BYTES, type BatchKind } from '../formats/batch.js';
import type { ObjectKind } from '../store/catalog.js';

// How the sync round groups its pushes (pure): small objects travel many to a signed request
// (`POST /api/objects/batch`), so a thousand small files cost a few requests and a few
// durability barriers at the holder instead of a thousand of each; big objects keep one
// request each (a 4 MiB chunk already amortizes its request and fsync).

export interface BatchPolicy {
  /** Objects up to this size go in batches; larger ones are pushed alone. */
  maxObjectBytes: number;
  /** A batch's body stays within this (unless one object alone is larger). */
  maxBodyBytes: number;
  maxObjects: number;
  /**
   * Slow start: a peer's first batch has 1/2^ramp of the bounds, each next one twice the
   * previous, up to them. The sender must read and hash a whole batch before its first byte
   * goes out (the signature covers the body), so small first batches start the transfer
   * (and the holder's writing) at once, while later, larger ones are hashed.
   */
  ramp: number;
}

/**
 * Sender defaults, well inside the holder's bounds (1 024 objects, 16 MiB): 8 MiB takes
 * about as long as two 4 MiB chunks on any link that carries a chunk within the deadline.
 */
export const BATCH_POLICY: BatchPolicy = { maxObjectBytes: 1024 * 1024, maxBodyBytes: 8 * 1024 * 1024, maxObjects: 512, ramp: 4 };

export interface PushItem {
  hash: string;
  peer: string;
  kind: ObjectKind;
  size: number;
}

/** One request of the round: a batch of objects, or one object alone. */
export type PushUnit =
  | { type: 'batch'; peer: string; items: (PushItem & { kind: BatchKind })[] }
  | { type: 'single'; peer: string; item: PushItem };

/**
 * Splits a plan's pushes into requests. Per peer, small objects fill batches in plan order
 * (most at risk first); `batching(peer)` false (a holder without the batch endpoint) sends
 * everything alone. Units come out in the order of their first object in the plan, so the
 * objects most at risk still go first.
 */
export function groupPushes(items: readonly PushItem[], batching: (peer: string) => boolean, policy: BatchPolicy = BATCH_POLICY): PushUnit[] {
  const units: PushUnit[] = [];
  const open = new Map<string, { unit: Extract<PushUnit, { type: 'batch' }>; bytes: number; maxObjects: number; maxBytes: number }>();
  const made = new Map<string, number>();
  for (const it of items) {
    const small = it.size <= policy.maxObjectBytes && (BATCH_KINDS as readonly string[]).includes(it.kind);
    if (!small || !batching(it.peer)) {
      units.push({ type: 'single', peer: it.peer, item: it });
      continue;
    }
    const frame = FRAME_HEAD_BYTES + it.size;
    let b = open.get(it.peer);
    if (b && b.unit.items.length > 0 && (b.unit.items.length >= b.maxObjects || b.bytes + frame > b.maxBytes)) b = undefined;
    if (!b) {
      const k = made.get(it.peer) ?? 0;
      made.set(it.peer, k + 1);
      const share = 2 ** (Math.min(k, policy.ramp) - policy.ramp);
      b = {
        unit: { type: 'batch', peer: it.peer, items: [] }, bytes: BATCH_MAGIC.length,
        maxObjects: Math.max(1, Math.floor(policy.maxObjects * share)), maxBytes: Math.floor(policy.maxBodyBytes * share),
      };
      open.set(it.peer, b);
      units.push(b.unit);
    }
    b.unit.items.push(it as PushItem & { kind: BatchKind });
    b.bytes += frame;
  }
  // A batch of one object is just a slower single push.
  return units.map((u) => (u.type === 'batch' && u.items.length === 1 ? { type: 'single', peer: u.peer, item: u.items[0]! } : u));
}

/**
 * Splits hashes to fetch from one holder into requests of at most `maxObjects` and, by the
 * sizes we expect (`sizeOf`), about `maxBytes` each (the holder leaves out what would pass its
 * body bound; that is then fetched alone).
 */
export function groupFetches(hashes: readonly string[], sizeOf: (hash: string) => number, maxObjects: number, maxBytes: number): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let bytes = 0;
  for (const h of hashes) {
    const n = FRAME_HEAD_BYTES + sizeOf(h);
    if (cur.length && (cur.length >= maxObjects || bytes + n > maxBytes)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(h);
    bytes += n;
  }
  if (cur.length) out.push(cur);
  return out;
}
