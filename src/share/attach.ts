import type { Cell } from '../cell.js';
import { badInput } from '../errors.js';
import { ShareService } from './service.js';
import { registerShareRoutes } from './routes.js';
import { indexPending } from './received.js';

// Wires sharing into a cell (src/cell.ts extension points): the peer endpoints, the control
// commands the CLI uses while the daemon runs, delivery when a peer is seen online, and the
// sync-round exchange (cell.exchanges).

export function attachSharing(cell: Cell): ShareService {
  const service = new ShareService(cell);
  registerShareRoutes(cell.app, {
    home: cell.home,
    clock: cell.clock,
    onGrant: (from, manifest) => {
      cell.log.info({ from, manifest }, 'file shared with this cell');
      cell.events.emit('grant-received', from, manifest);
    },
    onUnshare: (from) => cell.events.emit('grant-dropped', from),
  });

  cell.control.register('share', (p, { signal }) => {
    if (typeof p.file !== 'string' || !Array.isArray(p.peers) || !p.peers.every((x) => typeof x === 'string')) throw badInput('expected {file, peers}');
    return service.share(p.file, p.peers as string[], signal);
  });
  cell.control.register('unshare', (p, { signal }) => {
    if (typeof p.file !== 'string' || typeof p.peer !== 'string') throw badInput('expected {file, peer}');
    return service.unshare(p.file, p.peer, signal);
  });

  // A manifest arriving for a grant we hold: list its chunks now (pinning them).
  cell.events.on('object-stored', (o) => {
    if (o.kind === 'manifest' && o.written) indexPending(cell.home);
  });
  // Opportunistic delivery: whenever a probe finds a peer online and something is owed to it.
  const inFlight = new Set<string>();
  cell.events.on('probe', (peerId, health) => {
    if (!health.online || !cell.running || inFlight.has(peerId) || !service.hasPending(peerId)) return;
    inFlight.add(peerId);
    cell.spawn(`share delivery to ${peerId.slice(0, 8)}`, async (signal) => {
      try {
        await service.deliver(peerId, undefined, signal);
      } finally {
        inFlight.delete(peerId);
      }
    });
  });
  cell.exchanges.push(service.exchange);
  return service;
}
