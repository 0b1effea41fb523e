import type { Runtime } from '../daemon/components.js';
import type { PeerContext } from '../peers/context.js';
import type { Home } from '../home/home.js';
import { bestRoute, routeScore } from '../peers/route-score.js';
import { probePeer, benchmarkDueRoutes } from '../peers/probe.js';
import type { IndexSections } from '../recovery/sections.js';
import { refreshIndex, restoreFromPeers, type RecoveryDeps, type RestoreResult } from '../recovery/recovery.js';
import { getObject, hasRef, recordRemoved } from '../store/catalog.js';
import { registerHolderRoutes } from './holder-routes.js';
import { SyncService } from './service.js';
import { repairObjects, type FetchDeps } from './repair.js';
import { resetAllInventorySeqs } from './placements.js';
import type { PeerExchange, SyncEnv } from './round.js';
import type { BatchSupport } from './push.js';
import type { Route } from './transfer.js';

// Replication as a feature of the cell (docs/design.md §4): the holder endpoints, the sync
// round (a jittered loop plus `grove sync` over the control socket), repair of corrupt local
// objects, and recovery (`grove restore`).

export interface SyncInit {
  /** Override config sync.interval_s (ms); 0 disables the loop (tests run rounds by hand). */
  intervalMs?: number;
  /** Delay before the first round after start (ms). */
  initialDelayMs?: number;
  random?: () => number;
}

export type SyncComponents = Pick<Runtime, 'log' | 'loops' | 'tasks' | 'control' | 'api'> & {
  peer: PeerContext;
  home: Home;
  /** Per-peer deliveries of other features (step 4d), in registration order. */
  exchanges: readonly PeerExchange[];
  sections: IndexSections;
  /** A copy held here for a share recipient: never released to its owner. */
  isPinned(hash: string, owner?: string): boolean;
};

export interface CellSync {
  service: SyncService;
  env: () => SyncEnv;
  recovery: () => RecoveryDeps;
  fetch: () => FetchDeps;
  restore: (signal?: AbortSignal) => Promise<RestoreResult>;
}

/** Base URL of a peer's best route from the recorded probes, if it has a reachable one. */
export function bestUrl(peer: PeerContext, peerId: string): { url: string; score: number | undefined } | undefined {
  const p = peer.peers.get(peerId);
  if (!p) return undefined;
  const best = bestRoute(peer.records.routeStats(p));
  return best ? { url: best.url, score: routeScore(best) } : undefined;
}

export function sync(init: SyncInit = {}) {
  return (c: SyncComponents): CellSync => {
    const { peer, home } = c;
    const { db, objects } = home;
    registerHolderRoutes(c.api, { db, objects, clock: peer.clock, isPinned: c.isPinned });

    const recovery = (): RecoveryDeps => ({
      sections: c.sections,
      selfId: peer.id, identity: home.keys.identity.privateKey, master: home.keys.master,
      db, objects, client: peer.client, clock: peer.clock,
    });

    // Which holders take batch uploads (older cells answer 404), kept across rounds.
    const batchSupport: BatchSupport = new Map();
    const env = (): SyncEnv => ({
      selfId: peer.id,
      db,
      objects,
      client: peer.client,
      clock: peer.clock,
      log: c.log,
      factor: home.config.replication.factor,
      offlineGraceMs: home.config.replication.offline_grace_s * 1000,
      listPeers: () => peer.peers.list().map((p) => ({ id: p.id, name: p.name, preferred: p.preferred })),
      benchmarkDue: async (id, signal) => {
        await benchmarkDueRoutes(peer, id, { signal });
      },
      probe: async (id, signal) => {
        const h = await probePeer(peer, id, { signal });
        const best = h.online ? bestUrl(peer, id) : undefined;
        return best ? { reachable: true, url: best.url, ...(best.score !== undefined ? { score: best.score } : {}) } : { reachable: false };
      },
      lastSeen: (id) => peer.records.peerHealth(id)?.last_ok ?? undefined,
      exchanges: c.exchanges,
      afterPush: (reachable: Route[], s, signal) => refreshIndex(recovery(), reachable, s, signal),
      onCorrupt: (hash) => peer.events.emit('corrupt', hash),
      batchSupport,
    });

    const service = new SyncService(env, (s) => peer.events.emit('sync-done', s));
    const intervalMs = init.intervalMs ?? home.config.sync.interval_s * 1000;
    const jitterMs = home.config.sync.jitter_s * 1000;
    const random = init.random ?? Math.random;
    if (intervalMs > 0) {
      c.loops.addLoop({
        name: 'sync',
        intervalMs: () => intervalMs + Math.floor(random() * jitterMs),
        initialDelayMs: init.initialDelayMs ?? Math.min(intervalMs, 15_000),
        run: async (signal) => {
          const s = await service.runNow(signal);
          c.log.info({ ...s, errors: s.errors.length }, 'sync round done');
        },
      });
    }

    const fetch = (): FetchDeps => ({
      db, client: peer.client,
      peerIds: () => peer.peers.list().map((p) => p.id),
      routeFor: (id) => bestUrl(peer, id)?.url ?? peer.peers.get(id)?.routes[0]?.url,
    });

    const restore = async (signal?: AbortSignal): Promise<RestoreResult> => {
      const r = await restoreFromPeers(recovery(), () => peer.peers.list().flatMap((p) => {
        const best = bestUrl(peer, p.id)?.url;
        const urls = best ? [best, ...p.routes.map((x) => x.url).filter((u) => u !== best)] : p.routes.map((x) => x.url);
        return urls.map((url) => ({ peerId: p.id, url }));
      }), signal);
      resetAllInventorySeqs(db);
      return r;
    };

    // A local object found corrupt while serving it: our own is fetched back from a holder; a
    // copy held for another owner is dropped, so the owner's next round sees it gone and
    // places a new copy.
    peer.events.on('corrupt', (hash) => {
      c.tasks.spawn(`repair ${hash.slice(0, 12)}`, async (signal) => {
        const row = getObject(db, hash);
        if (!row || row.present !== 1) return;
        if (hasRef(db, hash, peer.id) || row.owner === peer.id) {
          const r = await repairObjects({ ...fetch(), objects, signal }, [hash]);
          c.log.warn({ hash, repaired: r.repaired.length === 1 }, 'corrupt local object');
        } else {
          db.transaction(() => recordRemoved(db, hash))();
          await objects.remove(hash);
          c.log.warn({ hash, owner: row.owner }, 'dropped a corrupt copy held for a peer');
        }
      });
    });

    c.control.register('sync', (_p, { signal }) => service.runNow(signal));
    c.control.register('restore', (_p, { signal }) => restore(signal));
    return { service, env, recovery, fetch, restore };
  };
}
