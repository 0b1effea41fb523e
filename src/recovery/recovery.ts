import type { KeyObject } from 'node:crypto';
import { getMeta as meta, setMeta, type DB } from '../store/db.js';
import type { ObjectStore } from '../store/objects.js';
import type { PeerClient } from '../net/client.js';
import { recordObject, recordRemoved } from '../store/catalog.js';
import { sealIndex, openIndex, type FileIndex } from '../formats/file-index.js';
import { canonicalJson } from '../crypto/canonical.js';
import { sha256Hex } from '../crypto/hash.js';
import { isHash } from '../crypto/encoding.js';
import { GroveError, describeError } from '../errors.js';
import { pushObject, pullObject, releaseObjects, type Route } from '../sync/transfer.js';
import type { RoundSummary } from '../sync/round.js';
import type { IndexSections, RestoreCounts } from './sections.js';

// Recovery from total loss (docs/design.md §4 "Recovery"). The cell keeps a sealed, signed
// index (src/formats/file-index.ts) as an object on every reachable peer, with a pointer each
// holder serves back to its owner. Its content comes from the sections the features register
// (src/recovery/sections.ts); this module moves the index and reads no feature's tables.
// A new machine with the imported keys pairs with one survivor, reads the index, and each
// section brings its part back: peers, files, grants, shares, chat numbering.

export interface RecoveryDeps {
  sections: IndexSections;
  selfId: string;
  identity: KeyObject;
  master: Buffer;
  db: DB;
  objects: ObjectStore;
  client: PeerClient;
  clock: () => number;
}

export function buildIndex(d: RecoveryDeps, now: number): FileIndex {
  return { ...d.sections.collect(), owner: d.selfId, created_at: now };
}

/**
 * Seals a new index when the files or peers changed, then makes sure every reachable peer
 * holds the current one and points to it. Cheap when nothing changed: no bytes are sent.
 */
export async function refreshIndex(d: RecoveryDeps, reachable: Route[], s: RoundSummary, signal?: AbortSignal): Promise<void> {
  const now = d.clock();
  const idx = buildIndex(d, now);
  const { created_at: _at, ...content0 } = idx;
  const content = sha256Hex(canonicalJson(content0));
  let current = meta(d.db, 'index_hash');
  const old = current;
  if (meta(d.db, 'index_content') !== content || !current || !d.objects.has(current)) {
    const bytes = sealIndex(d.master, d.identity, idx);
    const { hash } = await d.objects.put(bytes);
    d.db.transaction(() => {
      recordObject(d.db, { hash, size: bytes.length, kind: 'index', owner: d.selfId }, now);
      setMeta(d.db, 'index_hash', hash);
      setMeta(d.db, 'index_created_at', String(now));
      setMeta(d.db, 'index_content', content);
    })();
    current = hash;
  }
  const createdAt = Number(meta(d.db, 'index_created_at') ?? now);
  for (const r of reachable) {
    if (meta(d.db, `index_at:${r.peerId}`) === current) continue;
    const sent = await pushObject(d.client, r, d.objects, current, 'index', signal);
    s.bytes_sent += sent;
    await d.client.call(r.url, r.peerId, 'POST', '/api/index', { json: { hash: current, created_at: createdAt }, signal });
    setMeta(d.db, `index_at:${r.peerId}`, current);
    const previous = meta(d.db, `index_prev:${r.peerId}`);
    if (previous && previous !== current) {
      await releaseObjects(d.client, r, [previous], signal).catch(() => []);
    }
    setMeta(d.db, `index_prev:${r.peerId}`, current);
  }
  if (old && old !== current) {
    d.db.transaction(() => recordRemoved(d.db, old))();
    await d.objects.remove(old);
  }
}

export interface RestoreResult {
  index_from: string;
  index_created_at: number;
  /** Counts from each section: files, restored, missing_manifests, peers_added, grants_restored, shares_restored, … */
  [count: string]: number | string | string[];
}

/**
 * `grove restore`: finds the newest index any known peer holds for us, adds the peers it names,
 * and rebuilds the file listing from the manifests (fetched from whichever peer has them).
 */
export async function restoreFromPeers(d: RecoveryDeps, routes: () => Route[], signal?: AbortSignal): Promise<RestoreResult> {
  // A holder's pointer (hash, created_at) is only its word: a peer could point at an old index
  // of ours it kept, with a created_at far in the future, to roll the restore back. Only the
  // created_at sealed and signed inside the index itself decides which one is newest.
  const candidates: { route: Route; hash: string; claimed: number }[] = [];
  const errors: string[] = [];
  for (const r of routes()) {
    try {
      const res = await d.client.call<{ hash: string; created_at: number }>(r.url, r.peerId, 'GET', '/api/index', { signal });
      if (!isHash(res.data?.hash) || !Number.isSafeInteger(res.data.created_at)) continue;
      candidates.push({ route: r, hash: res.data.hash, claimed: res.data.created_at });
    } catch (e) {
      errors.push(`${r.peerId.slice(0, 12)}: ${describeError(e)}`);
    }
  }
  candidates.sort((a, b) => b.claimed - a.claimed);
  let best: { route: Route; hash: string; created_at: number; index: FileIndex } | undefined;
  const opened = new Set<string>();
  const pulled: string[] = [];
  for (const c of candidates) {
    // Honest holders claim the sealed value: once claims fall below the best opened, stop.
    if (best && c.claimed < best.created_at) break;
    if (opened.has(c.hash)) continue;
    let index: FileIndex;
    const had = d.objects.has(c.hash);
    try {
      if (!had) await pullObject(d.client, c.route, d.objects, c.hash, signal);
      index = openIndex(d.master, d.selfId, await d.objects.get(c.hash));
    } catch (e) {
      errors.push(`${c.route.peerId.slice(0, 12)}: ${describeError(e)}`);
      if (!had) await d.objects.remove(c.hash).catch(() => {});
      continue;
    }
    opened.add(c.hash);
    if (!had) pulled.push(c.hash);
    if (!best || index.created_at > best.created_at) best = { route: c.route, hash: c.hash, created_at: index.created_at, index };
  }
  // Older indexes fetched only to compare them are not kept.
  for (const h of pulled) if (h !== best?.hash) await d.objects.remove(h).catch(() => {});
  if (!best) {
    throw new GroveError('NOT_FOUND', `no peer holds an index for this cell${errors.length ? ` (${errors.join('; ')})` : ''}; pair with a surviving peer first`);
  }
  const index = best.index;
  const now = d.clock();
  recordObject(d.db, { hash: best.hash, size: (await d.objects.size(best.hash)) ?? 0, kind: 'index', owner: d.selfId }, now);

  const first = best.route;
  const fetchObject = async (hash: string): Promise<boolean> => {
    if (d.objects.has(hash)) return true;
    for (const r of [first, ...routes()]) {
      try {
        await pullObject(d.client, r, d.objects, hash, signal);
        return true;
      } catch {
        if (signal?.aborted) throw signal.reason;
        /* try the next peer */
      }
    }
    return false;
  };
  const result: RestoreResult = { index_from: best.route.peerId, index_created_at: best.created_at };
  for (const section of d.sections.list()) {
    signal?.throwIfAborted();
    const counts: RestoreCounts = await section.restore(index[section.name], { now, signal, fetchObject });
    Object.assign(result, counts);
  }
  return result;
}
