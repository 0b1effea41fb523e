import type { Logger } from 'pino';
import type { ObjectStore } from '../store/objects.js';
import type { PeerClient } from '../net/client.js';
import { recordObjects, objectTotals } from '../store/catalog.js';
import { chunkStoredSizes, isOwnObject, isOwnManifest, lastVersionId, missingOwnObjects } from '../ingest/files.js';
import { getMeta, setMeta, type DB } from '../store/db.js';
import { GroveError, describeError } from '../errors.js';
import { isHash } from '../crypto/encoding.js';
import type { PeerInfo } from './placement.js';
import { planFromCatalog, saveAtRisk, type CatalogPlan } from './plan.js';
import {
  confirmPlacement, dropPlacement, holdersOf, sampleHeldBy, getInventorySeq, setInventorySeq, markReleasing, markPinned,
} from './placements.js';
import { isLostCopy } from './lost.js';
import { CHALLENGE_SAMPLE, challengeHolder } from './challenge.js';
import { pullBatch, pullObject, releaseObjects, mapLimit, type Route } from './transfer.js';
import { groupFetches } from './batches.js';
import { MAX_FETCH_OBJECTS } from '../formats/batch.js';
import { BATCH_CONCURRENCY, pushPlanned, type BatchSupport } from './push.js';

// The opportunistic sync round (seed "Sync Flow", docs/design.md §4), in the seed's order:
// 1 resolve peers, 2 benchmark due routes, 3 probe, 4 per reachable peer: inventory (incremental),
// pull what we need, push what it should hold, extras (manifests, grants, chat), 5 update
// check, 6 heal at-risk objects. Policy is planPlacement (pure); this file only does the I/O
// (the pushes of step 4c are in push.ts).


export interface SyncPeerState {
  id: string;
  name: string;
  preferred: boolean;
}

export interface ProbeOutcome {
  reachable: boolean;
  /** Base URL of the best route, when reachable. */
  url?: string;
  /** Effective score of the best route (lower is better). */
  score?: number;
}

/** A per-peer hook of the round (step 4d): a feature's deliveries to a reachable peer. */
export interface PeerExchange {
  name: string;
  run(route: Route, summary: RoundSummary, signal?: AbortSignal): Promise<void>;
}

/** What the round needs from the cell; the cell supplies it (tests can too). */
export interface SyncEnv {
  selfId: string;
  db: DB;
  objects: ObjectStore;
  client: PeerClient;
  clock: () => number;
  log: Logger;
  factor: number;
  offlineGraceMs: number;
  listPeers(): SyncPeerState[];
  benchmarkDue(peerId: string, signal?: AbortSignal): Promise<void>;
  probe(peerId: string, signal?: AbortSignal): Promise<ProbeOutcome>;
  /** ms of the peer's last successful probe, if any. */
  lastSeen(peerId: string): number | undefined;
  /** Per reachable peer, after objects: manifests and grants, chat delivery, … */
  exchanges?: readonly PeerExchange[];
  /** Step 5: the update check (filled by the auto-update work). */
  updateCheck?: (signal?: AbortSignal) => Promise<void>;
  /** After pushes: refresh and spread the recovery index. */
  afterPush?: (reachable: Route[], summary: RoundSummary, signal?: AbortSignal) => Promise<void>;
  /**
   * Per holder, whether it takes batch uploads and when that was found out (kept across
   * rounds by the caller; without it, each round asks again with one small request).
   */
  batchSupport?: BatchSupport;
  /** A local object found corrupt (a holder refused its bytes): repair it. */
  onCorrupt?: (hash: string) => void;
  concurrency?: number;
  inventoryPageSize?: number;
  /** Objects challenged per holder per round (default CHALLENGE_SAMPLE; 0 turns it off). */
  challengeSample?: number;
  random?: () => number;
}

export interface RoundSummary {
  started_at: number;
  finished_at: number;
  peers_reached: number;
  peers_total: number;
  pushed: number;
  pulled: number;
  released: number;
  healed: number;
  at_risk: number;
  bytes_sent: number;
  bytes_received: number;
  /** Objects holders were asked to prove they hold, and the placements dropped for a failed proof. */
  challenged: number;
  challenges_failed: number;
  errors: { peer?: string; step: string; error: string }[];
}

export function emptySummary(now: number): RoundSummary {
  return {
    started_at: now, finished_at: now, peers_reached: 0, peers_total: 0, pushed: 0, pulled: 0,
    released: 0, healed: 0, at_risk: 0, bytes_sent: 0, bytes_received: 0, challenged: 0, challenges_failed: 0, errors: [],
  };
}

export async function runRound(env: SyncEnv, signal?: AbortSignal): Promise<RoundSummary> {
  const s = emptySummary(env.clock());
  const fail = (step: string, peer: string | undefined, e: unknown) => recordFailure(env, s, step, peer, e);

  // 1. Resolve peers (routes are grouped by identity in the registry).
  const peers = env.listPeers();
  s.peers_total = peers.length;

  // 2-3. Benchmark due routes, then probe each peer for its best route.
  const reachable: (Route & { score?: number })[] = [];
  const online = new Set<string>();
  await mapLimit(peers, 4, async (p) => {
    try {
      await env.benchmarkDue(p.id, signal);
    } catch (e) {
      fail('bench', p.id, e);
    }
    try {
      const pr = await env.probe(p.id, signal);
      if (pr.reachable && pr.url) {
        reachable.push({ peerId: p.id, url: pr.url, ...(pr.score !== undefined ? { score: pr.score } : {}) });
        online.add(p.id);
      }
    } catch (e) {
      fail('probe', p.id, e);
    }
  });
  reachable.sort((a, b) => a.peerId.localeCompare(b.peerId));
  s.peers_reached = reachable.length;
  signal?.throwIfAborted();

  // 4a. Inventory: only what changed since the last round, per peer.
  for (const r of reachable) {
    try {
      await readInventory(env, r, s, signal);
    } catch (e) {
      fail('inventory', r.peerId, e);
    }
  }

  // 4a'. Proof of storage: a few random objects per holder, so one that acknowledged and threw
  // away is found now, not at the next repair. A failed proof drops the placement before the
  // plan below, which then places the object elsewhere.
  const sampleSize = env.challengeSample ?? CHALLENGE_SAMPLE;
  if (sampleSize > 0) {
    for (const r of reachable) {
      try {
        const picked = sampleHeldBy(env.db, r.peerId, env.selfId, sampleSize, env.random ?? Math.random);
        const out = await challengeHolder(env, r, picked, signal);
        s.challenged += out.checked;
        s.challenges_failed += out.failed.length;
        if (out.failed.length) env.log.warn({ peer: r.peerId, failed: out.failed.length }, 'a holder failed storage challenges; placing those objects again');
      } catch (e) {
        fail('challenge', r.peerId, e);
      }
    }
  }

  // 4b. Pull what we need: our own objects missing here that a peer holds (repair, recovery).
  await pullMissing(env, reachable, s, signal);

  // 4c. Push what peers should hold (speed-ranked placement), release extra copies.
  const refusing = new Set<string>();
  const { plan, seq } = await planFor(env, peers, reachable, online, refusing);
  const byPeer = new Map(reachable.map((r) => [r.peerId, r]));
  const stale = staleHolders(env, peers, online);
  // Copies each object at risk still lacks: what the pushes below must confirm.
  const lacking = new Map(plan.atRisk.map((r) => [r.hash, r.desired - r.copies]));
  const onPlaced = (hashes: readonly string[]) => {
    for (const hash of hashes) {
      const still = lacking.get(hash);
      if (still !== undefined) lacking.set(hash, still - 1);
    }
  };
  s.healed = await pushPlanned({ env, summary: s, routes: byPeer, refusing, stale, fail, onPlaced, ...(signal ? { signal } : {}) }, plan.push);
  const releases = groupByPeer(plan.release);
  for (const [peer, hashes] of releases) {
    const route = byPeer.get(peer);
    if (!route) continue;
    try {
      for (const h of hashes) markReleasing(env.db, h, peer, env.clock());
      const done = new Set(await releaseObjects(env.client, route, hashes, signal));
      env.db.transaction(() => {
        for (const h of hashes) {
          if (done.has(h)) dropPlacement(env.db, h, peer);
          else markPinned(env.db, h, peer, env.clock()); // refused: the holder keeps it for a grant
        }
      })();
      s.released += done.size;
    } catch (e) {
      fail('release', peer, e);
    }
  }
  if (env.afterPush) {
    try {
      await env.afterPush(reachable, s, signal);
    } catch (e) {
      fail('index', undefined, e);
    }
  }

  // 4d. Manifests and grants, chat, … (registered by later features).
  for (const r of reachable) {
    for (const x of env.exchanges ?? []) {
      try {
        await x.run(r, s, signal);
      } catch (e) {
        fail(x.name, r.peerId, e);
      }
    }
  }

  // 5. Update check.
  if (env.updateCheck) {
    try {
      await env.updateCheck(signal);
    } catch (e) {
      fail('update', undefined, e);
    }
  }

  // 6. At-risk objects after this round (healing itself happened in the placement step): those
  // the plan found, less those its pushes brought up to the factor. Saved for `grove status`.
  s.at_risk = plan.atRiskCount - [...lacking.values()].filter((n) => n <= 0).length;
  saveAtRisk(env.db, s.at_risk, seq, env.clock());
  s.finished_at = env.clock();
  return s;
}

async function readInventory(env: SyncEnv, r: Route, s: RoundSummary, signal?: AbortSignal): Promise<void> {
  let since = getInventorySeq(env.db, r.peerId);
  const limit = env.inventoryPageSize ?? 5000;
  // A holder can list at most what we own (each object appears, and may change, a few times a
  // round): more pages than that is a holder stuffing us with junk. The rest waits for the
  // next round, so the work per peer per round stays bounded.
  // (What this cell holds bounds what it owns, and is read without counting the catalog.)
  const maxPages = Math.ceil((2 * objectTotals(env.db).objects + 2 * limit) / limit);
  for (let pages = 0; pages < maxPages; pages++) {
    const res = await env.client.call<InventoryResponse>(r.url, r.peerId, 'GET', `/api/inventory?since=${since}&limit=${limit}`, { signal });
    s.bytes_received += res.bytesReceived;
    const page = res.data;
    // A page that says there is more must move forward, or a peer could keep us paging forever.
    if (!page || !Array.isArray(page.items) || page.items.length > limit || !Number.isSafeInteger(page.next) || (page.more && page.next <= since)) {
      throw new GroveError('PEER_ERROR', 'malformed inventory');
    }
    const now = env.clock();
    env.db.transaction(() => {
      for (const it of page.items) {
        // Only our own objects get placement rows: a hash we do not own is junk (or someone
        // else's), and recording it would let a holder grow our database at will.
        if (!it || it.owner !== env.selfId || !isHash(it.hash) || !isOwnObject(env.db, it.hash, env.selfId)) continue;
        if (it.present) confirmPlacement(env.db, it.hash, r.peerId, now);
        else dropPlacement(env.db, it.hash, r.peerId);
      }
      setInventorySeq(env.db, r.peerId, page.next, now);
    })();
    since = page.next;
    if (!page.more) return;
  }
}

interface InventoryResponse {
  items: { hash: string; owner: string; present: boolean; size: number; kind: string }[];
  next: number;
  more: boolean;
}

async function pullMissing(env: SyncEnv, reachable: Route[], s: RoundSummary, signal?: AbortSignal): Promise<void> {
  // Something can go missing only when an object is removed here or a version is added: with
  // neither since a search that found nothing, the catalog is not searched again.
  const mark = `${getMeta(env.db, 'object_seq') ?? 0}/${lastVersionId(env.db)}`;
  if (getMeta(env.db, 'missing_none_at') === mark) return;
  const missing = missingOwnObjects(env.db);
  if (!missing.length) {
    setMeta(env.db, 'missing_none_at', mark);
    return;
  }
  const byPeer = new Map(reachable.map((r) => [r.peerId, r]));
  const got = (objs: { hash: string; size: number }[]) => {
    env.db.transaction(() => recordObjects(env.db, objs.map((o) => ({ ...o, kind: isOwnManifest(env.db, o.hash) ? 'manifest' as const : 'chunk' as const, owner: env.selfId })), env.clock()))();
    for (const o of objs) s.bytes_received += o.size;
    s.pulled += objs.length;
  };
  // First many to a request, from the first reachable holder of each that serves batches;
  // then one by one whatever is still missing, from any holder.
  const fetched = await pullBatches(env, byPeer, missing, got, signal, (peer, e) => recordFailure(env, s, 'pull', peer, e));
  await mapLimit(missing.filter((h) => !fetched.has(h)), env.concurrency ?? 4, async (hash) => {
    for (const { peer } of holdersOf(env.db, hash)) {
      const route = byPeer.get(peer);
      if (!route) continue;
      try {
        const size = await pullObject(env.client, route, env.objects, hash, signal);
        got([{ hash, size }]);
        return;
      } catch (e) {
        // A holder that says it lacks the object, or sends other bytes, no longer holds it.
        if (isLostCopy(e)) dropPlacement(env.db, hash, peer);
        recordFailure(env, s, 'pull', peer, e);
      }
    }
  });
}

/** Objects asked at once in a batch download, by size (the holder's body bound is 16 MiB). */
const PULL_BATCH_BYTES = 12 * 1024 * 1024;
/** Expected size of an object whose size we do not know (a manifest): most are far smaller. */
const UNKNOWN_SIZE = 64 * 1024;

/** Batch downloads of missing objects (`GET /api/objects?hashes=…`). Returns the hashes stored. */
async function pullBatches(env: SyncEnv, byPeer: Map<string, Route>, missing: readonly string[], got: (objs: { hash: string; size: number }[]) => void,
  signal: AbortSignal | undefined, fail: (peer: string, e: unknown) => void): Promise<Set<string>> {
  const fetched = new Set<string>();
  const groups = new Map<string, string[]>();
  for (const hash of missing) {
    const holder = holdersOf(env.db, hash).find((h) => byPeer.has(h.peer) && env.batchSupport?.get(h.peer)?.ok !== false);
    if (!holder) continue;
    let list = groups.get(holder.peer);
    if (!list) groups.set(holder.peer, (list = []));
    list.push(hash);
  }
  const sizes = chunkStoredSizes(env.db, missing);
  const units = [...groups].flatMap(([peer, hashes]) => groupFetches(hashes, (h) => sizes.get(h) ?? UNKNOWN_SIZE, MAX_FETCH_OBJECTS, PULL_BATCH_BYTES)
    .map((batch) => ({ peer, batch })));
  await mapLimit(units, BATCH_CONCURRENCY, async ({ peer, batch }) => {
    try {
      const objs = await pullBatch(env.client, byPeer.get(peer)!, env.objects, batch, signal);
      got(objs);
      for (const o of objs) fetched.add(o.hash);
    } catch (e) {
      // An older holder (404): it gets single downloads; anything else is retried one by one.
      if (e instanceof GroveError && e.code === 'PEER_ERROR' && e.detail?.status === 404) env.batchSupport?.set(peer, { ok: false, at: env.clock() });
      else fail(peer, e);
    }
  });
  return fetched;
}

/** A failed step costs only itself: it is recorded, logged, and retried next round. */
function recordFailure(env: SyncEnv, s: RoundSummary, step: string, peer: string | undefined, e: unknown): void {
  const error = describeError(e);
  s.errors.push({ ...(peer ? { peer } : {}), step, error });
  env.log.warn({ peer, step, err: error }, 'sync step failed');
}

/** Peers whose copies no longer count: offline past the grace period. */
function staleHolders(env: SyncEnv, peers: SyncPeerState[], online: Set<string>): Set<string> {
  const now = env.clock();
  const out = new Set<string>();
  for (const p of peers) {
    if (online.has(p.id)) continue;
    const seen = env.lastSeen(p.id);
    if (seen === undefined || now - seen > env.offlineGraceMs) out.add(p.id);
  }
  return out;
}

function planFor(env: SyncEnv, peers: SyncPeerState[], reachable: (Route & { score?: number })[], online: Set<string>, refusing: Set<string>): Promise<CatalogPlan> {
  const score = new Map(reachable.map((r) => [r.peerId, r.score]));
  const infos: PeerInfo[] = peers.map((p) => {
    const seen = online.has(p.id) ? env.clock() : env.lastSeen(p.id);
    const sc = score.get(p.id);
    return {
      id: p.id,
      preferred: p.preferred,
      online: online.has(p.id),
      ...(seen !== undefined ? { lastSeen: seen } : {}),
      ...(online.has(p.id) ? { score: sc ?? 0 } : {}),
      ...(refusing.has(p.id) ? { refusing: true } : {}),
    };
  });
  return planFromCatalog(env.db, env.selfId, { factor: env.factor, now: env.clock(), offlineGraceMs: env.offlineGraceMs, peers: infos }, {
    pause: () => new Promise<void>((resolve) => setImmediate(resolve)),
  });
}

function groupByPeer(actions: { hash: string; peer: string }[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const a of actions) {
    let list = m.get(a.peer);
    if (!list) m.set(a.peer, (list = []));
    list.push(a.hash);
  }
  return m;
}
