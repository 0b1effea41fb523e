import type { Cell } from '../cell.js';
import { badInput } from '../errors.js';
import { ChatService } from './service.js';
import { registerChatRoutes } from './routes.js';

// Wires chat into a cell (src/cell.ts extension points): POST /api/chat, the `chat-send`
// control command, delivery of queued messages whenever the daemon sees the peer (a probe
// finds it online, or the peer just sent us a message), and the sync-round exchange.

export function attachChat(cell: Cell): ChatService {
  const service = new ChatService(cell);
  const inFlight = new Set<string>();
  const flush = (peerId: string) => {
    if (!cell.running || inFlight.has(peerId) || !service.hasPending(peerId)) return;
    inFlight.add(peerId);
    cell.spawn(`chat delivery to ${peerId.slice(0, 8)}`, async (signal) => {
      try {
        await service.deliver(peerId, undefined, signal);
      } finally {
        inFlight.delete(peerId);
      }
    });
  };

  registerChatRoutes(cell.app, {
    home: cell.home,
    clock: cell.clock,
    onMessage: (from) => {
      cell.log.info({ from }, 'chat message received');
      cell.events.emit('chat-received', from);
      flush(from); // it is online right now
    },
  });
  cell.control.register('chat-send', (p, { signal }) => {
    if (typeof p.peer !== 'string' || typeof p.text !== 'string') throw badInput('expected {peer, text}');
    return service.send(p.peer, p.text, signal);
  });
  cell.events.on('probe', (peerId, health) => {
    if (health.online) flush(peerId);
  });
  cell.exchanges.push(service.exchange);
  return service;
}
