import type { Runtime } from '../daemon/components.js';
import type { PeerContext } from '../peers/context.js';
import type { Home } from '../home/home.js';
import type { IndexSections } from '../recovery/sections.js';
import type { PeerExchange } from '../sync/round.js';
import { badInput } from '../errors.js';
import { ShareService } from './service.js';
import { registerShareRoutes } from './routes.js';
import { indexPending, isPinned } from './received.js';
import { grantsSection, sharesSection } from './index-section.js';

// Sharing as a feature of the cell (docs/design.md §2 "ShareGrant"): its peer endpoints, the
// control commands the CLI uses, delivery whenever a probe finds a recipient online, the
// sync round's exchange, and its sections of the recovery index.

export type SharingComponents = Pick<Runtime, 'log' | 'tasks' | 'control' | 'api'> & {
  peer: PeerContext;
  home: Home;
  exchanges: PeerExchange[];
  sections: IndexSections;
};

export interface Sharing {
  service: ShareService;
  /** A copy held here for a grant (or its manifest): kept, never released to its owner. */
  isPinned(hash: string, owner?: string): boolean;
}

export function sharing() {
  return (c: SharingComponents): Sharing => {
    const { peer, home } = c;
    const service = new ShareService({ ...peer, home });
    registerShareRoutes(c.api, {
      home,
      clock: peer.clock,
      onGrant: (from, manifest) => {
        c.log.info({ from, manifest }, 'file shared with this cell');
        peer.events.emit('grant-received', from, manifest);
      },
      onUnshare: (from) => peer.events.emit('grant-dropped', from),
    });

    c.control.register('share', (p, { signal }) => {
      if (typeof p.file !== 'string' || !Array.isArray(p.peers) || !p.peers.every((x) => typeof x === 'string')) throw badInput('expected {file, peers}');
      return service.share(p.file, p.peers as string[], signal);
    });
    c.control.register('unshare', (p, { signal }) => {
      if (typeof p.file !== 'string' || typeof p.peer !== 'string') throw badInput('expected {file, peer}');
      return service.unshare(p.file, p.peer, signal);
    });

    // A manifest arriving for a grant we hold: list its chunks now (pinning them).
    peer.events.on('object-stored', (o) => {
      if (o.kind === 'manifest' && o.written) indexPending(home, o.hash);
    });
    // Opportunistic delivery: whenever a probe finds a peer online and something is owed to it.
    const inFlight = new Set<string>();
    peer.events.on('probe', (peerId, health) => {
      if (!health.online || !c.tasks.running || inFlight.has(peerId) || !service.hasPending(peerId)) return;
      inFlight.add(peerId);
      c.tasks.spawn(`share delivery to ${peerId.slice(0, 8)}`, async (signal) => {
        try {
          await service.deliver(peerId, undefined, signal);
        } finally {
          inFlight.delete(peerId);
        }
      });
    });
    c.exchanges.push(service.exchange);
    // Manifests that arrived while the cell was down (or before an upgrade) get listed once.
    indexPending(home);
    c.sections.register(grantsSection(home));
    c.sections.register(sharesSection(home, peer.peers));
    return { service, isPinned: (hash, owner) => isPinned(home, hash, owner) };
  };
}
