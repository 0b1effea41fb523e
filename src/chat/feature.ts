import type { Runtime } from '../daemon/components.js';
import type { PeerContext } from '../peers/context.js';
import type { Home } from '../home/home.js';
import type { IndexSections } from '../recovery/sections.js';
import type { PeerExchange } from '../sync/round.js';
import { badInput } from '../errors.js';
import { ChatService } from './service.js';
import { registerChatRoutes } from './routes.js';
import { chatSeqSection } from './index-section.js';

// Chat as a feature of the cell (docs/design.md §2 "Chat"): POST /api/chat, the `chat-send`
// control command, delivery of queued messages whenever the cell sees the peer (a probe finds
// it online, or it just sent us a message), the sync round's exchange, and the chat
// numbering's section of the recovery index.

export type ChatComponents = Pick<Runtime, 'log' | 'tasks' | 'control' | 'api'> & {
  peer: PeerContext;
  home: Home;
  exchanges: PeerExchange[];
  sections: IndexSections;
};

export function chat() {
  return (c: ChatComponents): ChatService => {
    const { peer, home } = c;
    const service = new ChatService({ ...peer, home });
    const inFlight = new Set<string>();
    const flush = (peerId: string) => {
      if (!c.tasks.running || inFlight.has(peerId) || !service.hasPending(peerId)) return;
      inFlight.add(peerId);
      c.tasks.spawn(`chat delivery to ${peerId.slice(0, 8)}`, async (signal) => {
        try {
          await service.deliver(peerId, undefined, signal);
        } finally {
          inFlight.delete(peerId);
        }
      });
    };

    registerChatRoutes(c.api, {
      home,
      clock: peer.clock,
      onMessage: (from) => {
        c.log.info({ from }, 'chat message received');
        peer.events.emit('chat-received', from);
        flush(from); // it is online right now
      },
    });
    c.control.register('chat-send', (p, { signal }) => {
      if (typeof p.peer !== 'string' || typeof p.text !== 'string') throw badInput('expected {peer, text}');
      return service.send(p.peer, p.text, signal);
    });
    peer.events.on('probe', (peerId, health) => {
      if (health.online) flush(peerId);
    });
    c.exchanges.push(service.exchange);
    c.sections.register(chatSeqSection(home.db));
    return service;
  };
}
