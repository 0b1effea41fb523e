import { createHash } from 'node:crypto';
import type { DB } from '../store/db.js';
import type { ObjectStore } from '../store/objects.js';
import { MAX_OBJECT_BYTES } from '../store/objects.js';
import type { PeerClient } from '../net/client.js';
import { describeError } from '../errors.js';
import { dropPlacement, holdersOf } from './placements.js';
import { isLostCopy } from './lost.js';

// Repair (docs/design.md §4 "Healing"): a local object found corrupt or missing is fetched back from a peer,
// checked against its hash, and atomically put in place of the bad copy.

export interface FetchDeps {
  db: DB;
  client: PeerClient;
  /** Peer IDs to try after the recorded holders (e.g. every paired peer). */
  peerIds: () => string[];
  /** Base URL of the peer's best route, or undefined when it has none. */
  routeFor: (peerId: string) => string | undefined;
  signal?: AbortSignal;
}

/** Fetches an object from its holders (then any peer); returns verified bytes or undefined. */
export async function fetchFromPeers(d: FetchDeps, hash: string, errors?: string[]): Promise<Buffer | undefined> {
  const tried = new Set<string>();
  const recorded = new Set(holdersOf(d.db, hash).map((h) => h.peer));
  const order = [...recorded, ...d.peerIds()];
  // A recorded holder that lacks the object or sends other bytes no longer holds it: its
  // placement goes at once, so the object is at risk again and the next round places it.
  const lost = (peer: string) => {
    if (recorded.has(peer)) dropPlacement(d.db, hash, peer);
  };
  for (const peer of order) {
    if (tried.has(peer)) continue;
    tried.add(peer);
    const url = d.routeFor(peer);
    if (!url) continue;
    try {
      const r = await d.client.call<Buffer>(url, peer, 'GET', `/api/objects/${hash}`, { maxBytes: MAX_OBJECT_BYTES, signal: d.signal });
      const data = r.data;
      if (Buffer.isBuffer(data) && createHash('sha256').update(data).digest('hex') === hash) return data;
      lost(peer);
      errors?.push(`${peer.slice(0, 12)}: sent bytes that do not match`);
    } catch (e) {
      if (isLostCopy(e)) lost(peer);
      errors?.push(`${peer.slice(0, 12)}: ${describeError(e)}`);
    }
  }
  return undefined;
}

export interface RepairReport {
  repaired: string[];
  failed: { hash: string; error: string }[];
}

/** Replaces each given (corrupt or missing) local object with a verified copy from a peer. */
export async function repairObjects(d: FetchDeps & { objects: ObjectStore }, hashes: string[]): Promise<RepairReport> {
  const report: RepairReport = { repaired: [], failed: [] };
  for (const hash of hashes) {
    const errors: string[] = [];
    const data = await fetchFromPeers(d, hash, errors);
    if (!data) {
      report.failed.push({ hash, error: errors.length ? errors.join('; ') : 'no peer reachable holds it' });
      continue;
    }
    await d.objects.putHashed(hash, data, { replace: true });
    report.repaired.push(hash);
  }
  return report;
}
