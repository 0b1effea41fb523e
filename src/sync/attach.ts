import type { Cell } from '../cell.js';
import { bestRoute, routeScore } from '../peers/route-score.js';
import { probePeer, benchmarkDueRoutes } from '../peers/probe.js';
import { registerHolderRoutes } from './holder-routes.js';
import { SyncService } from './service.js';
import { refreshIndex, restoreFromPeers, type RecoveryDeps } from './recovery.js';
import { repairObjects, type FetchDeps } from './repair.js';
import { getObject, recordRemoved } from '../store/catalog.js';
import type { SyncEnv } from './round.js';
import type { Route } from './transfer.js';

// Wires replication into a cell (src/cell.ts extension points): the holder endpoints, the
// sync round (a jittered daemon loop plus `grove sync` over the control socket), recovery.

export interface SyncAttachOptions {
  /** Override config sync.interval_s (ms); 0 disables the loop (tests run rounds by hand). */
  intervalMs?: number;
  /** Delay before the first round after start (ms). */
  initialDelayMs?: number;
  random?: () => number;
}

export interface CellSync {
  service: SyncService;
  env: () => SyncEnv;
  recovery: () => RecoveryDeps;
  fetch: () => FetchDeps;
  restore: (signal?: AbortSignal) => ReturnType<typeof restoreFromPeers>;
}

/** Base URL of a peer's best route from the recorded probes, if it has a reachable one. */
export function bestUrl(cell: Cell, peerId: string): { url: string; score: number | undefined } | undefined {
  const p = cell.peers.get(peerId);
  if (!p) return undefined;
  const best = bestRoute(cell.records.routeStats(p));
  return best ? { url: best.url, score: routeScore(best) } : undefined;
}

export function attachSync(cell: Cell, opts: SyncAttachOptions = {}): CellSync {
  const { db, objects } = cell.home;
  registerHolderRoutes(cell.app, {
    db, objects, clock: cell.clock,
    isPinned: (hash) => cell.sharing.isPinned(hash),
  });

  const recovery = (): RecoveryDeps => ({
    home: cell.home,
    selfId: cell.id, identity: cell.home.keys.identity.privateKey, master: cell.home.keys.master,
    db, objects, client: cell.client, peers: cell.peers, clock: cell.clock,
  });

  const env = (): SyncEnv => ({
    selfId: cell.id,
    db,
    objects,
    client: cell.client,
    clock: cell.clock,
    log: cell.log,
    factor: cell.config.replication.factor,
    offlineGraceMs: cell.config.replication.offline_grace_s * 1000,
    listPeers: () => cell.peers.list().map((p) => ({ id: p.id, name: p.name, preferred: p.preferred })),
    benchmarkDue: async (id) => {
      await benchmarkDueRoutes(cell, id);
    },
    probe: async (id) => {
      const h = await probePeer(cell, id);
      const best = h.online ? bestUrl(cell, id) : undefined;
      return best ? { reachable: true, url: best.url, ...(best.score !== undefined ? { score: best.score } : {}) } : { reachable: false };
    },
    lastSeen: (id) => cell.records.peerHealth(id)?.last_ok ?? undefined,
    exchanges: cell.exchanges,
    afterPush: (reachable: Route[], s) => refreshIndex(recovery(), reachable, s),
    onCorrupt: (hash) => cell.events.emit('corrupt', hash),
  });

  const service = new SyncService(env, (s) => cell.events.emit('sync-done', s));
  const intervalMs = opts.intervalMs ?? cell.config.sync.interval_s * 1000;
  const jitterMs = cell.config.sync.jitter_s * 1000;
  const random = opts.random ?? Math.random;
  if (intervalMs > 0) {
    cell.addLoop({
      name: 'sync',
      intervalMs: () => intervalMs + Math.floor(random() * jitterMs),
      initialDelayMs: opts.initialDelayMs ?? Math.min(intervalMs, 15_000),
      run: async (signal) => {
        const s = await service.runNow(signal);
        cell.log.info({ ...s, errors: s.errors.length }, 'sync round done');
      },
    });
  }

  const fetch = (): FetchDeps => ({
    db, client: cell.client,
    peerIds: () => cell.peers.list().map((p) => p.id),
    routeFor: (id) => bestUrl(cell, id)?.url ?? cell.peers.get(id)?.routes[0]?.url,
  });

  const restore = (signal?: AbortSignal) => restoreFromPeers(recovery(), () => cell.peers.list().flatMap((p) => {
    const best = bestUrl(cell, p.id)?.url;
    const urls = best ? [best, ...p.routes.map((r) => r.url).filter((u) => u !== best)] : p.routes.map((r) => r.url);
    return urls.map((url) => ({ peerId: p.id, url }));
  }), signal);

  // A local object found corrupt while serving it: our own is fetched back from a holder; a
  // copy held for another owner is dropped, so the owner's next round sees it gone and
  // places a new copy.
  cell.events.on('corrupt', (hash) => {
    cell.spawn(`repair ${hash.slice(0, 12)}`, async () => {
      const row = getObject(db, hash);
      if (!row || row.present !== 1) return;
      if (row.owner === cell.id) {
        const r = await repairObjects({ ...fetch(), objects }, [hash]);
        cell.log.warn({ hash, repaired: r.repaired.length === 1 }, 'corrupt local object');
      } else {
        db.transaction(() => recordRemoved(db, hash))();
        await objects.remove(hash);
        cell.log.warn({ hash, owner: row.owner }, 'dropped a corrupt copy held for a peer');
      }
    });
  });

  cell.control.register('sync', (_p, { signal }) => service.runNow(signal));
  cell.control.register('restore', (_p, { signal }) => restore(signal));
  return { service, env, recovery, fetch, restore };
}
