import type { FastifyInstance } from 'fastify';
import type { Home } from '../home/home.js';
import { MAX_CHAT_ENVELOPE_JSON_BYTES } from '../formats/chat.js';
import { receiveMessage, type ReceiveResult } from './messages.js';

// POST /api/chat (docs/design.md §3 "chat"; docs/protocol.md "Chat"). Default auth: signed by a paired
// peer, so req.peer is the caller, which must be the envelope's sender.

export interface ChatRouteDeps {
  home: Home;
  clock: () => number;
  /** Called after a message was accepted (not for duplicates). */
  onMessage?: (from: string) => void;
}

export function registerChatRoutes(app: FastifyInstance, deps: ChatRouteDeps): void {
  app.post('/api/chat', { bodyLimit: MAX_CHAT_ENVELOPE_JSON_BYTES }, async (req): Promise<ReceiveResult> => {
    const r = receiveMessage(deps.home, req.peer!, req.body, deps.clock());
    if (r.accepted) deps.onMessage?.(req.peer!);
    return r;
  });
}
