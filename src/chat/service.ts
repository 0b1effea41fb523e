import type { PeerContext } from '../peers/context.js';
import type { Home } from '../home/home.js';
import { describeError } from '../errors.js';
import { PeerLink, KeyedMutex, isUnreachable, refusalStatus } from '../peers/link.js';
import type { PeerExchange } from '../sync/round.js';
import { isDelivered, queueMessage, undelivered, hasUndelivered, markDelivered, markFailed, type QueuedMessage } from './messages.js';

// Sending chat (docs/design.md §2 "Chat"): a message is sealed and queued first, then delivered to
// the peer's POST /api/chat. Queued messages go out in seq order, each only after the one
// before it was accepted, at the first contact: right away when the peer is reachable, else
// the sync round's exchange or the daemon seeing the peer online. The receiver refuses a
// replayed id, so a retry after a lost answer is harmless: delivery is exactly once.

export interface SentMessage extends QueuedMessage {
  delivered: boolean;
}

export interface ChatDeliveryReport {
  delivered: number;
  failed: { id: string; error: string }[];
}

/** Refusals that will not change on retry: the message itself is unacceptable. */
const PERMANENT = new Set([400, 409, 413]);

export class ChatService {
  private readonly mutex = new KeyedMutex();

  constructor(private readonly ctx: PeerContext & { home: Home }) {}

  /** `grove chat PEER MESSAGE`: queues the message and delivers the queue if the peer is reachable. */
  async send(peerArg: string, text: string, signal?: AbortSignal): Promise<SentMessage> {
    const peer = this.ctx.peers.resolve(peerArg);
    const q = queueMessage(this.ctx.home, peer, text, this.ctx.clock());
    try {
      await this.deliver(peer.id, undefined, signal);
    } catch (e) {
      if (signal?.aborted || !isUnreachable(e)) throw e;
    }
    return { ...q, delivered: isDelivered(this.ctx.home.db, peer.id, q.id) };
  }

  hasPending(peerId: string): boolean {
    return hasUndelivered(this.ctx.home.db, peerId);
  }

  /**
   * Delivers the queue to one peer, in order. Stops at the first message that could not be
   * delivered for a reason that may pass (unreachable: thrown; other refusals: reported), so
   * nothing overtakes it; a message refused for good is marked failed and skipped.
   */
  deliver(peerId: string, url?: string, signal?: AbortSignal): Promise<ChatDeliveryReport> {
    return this.mutex.run(peerId, () => this.deliverNow(peerId, url, signal));
  }

  /** The sync-round hook: deliver the queue to each reachable peer. */
  readonly exchange: PeerExchange = {
    name: 'chat',
    run: async (route, summary, signal) => {
      const r = await this.deliver(route.peerId, route.url, signal);
      for (const f of r.failed) summary.errors.push({ peer: route.peerId, step: 'chat', error: `message ${f.id.slice(0, 8)}: ${f.error}` });
    },
  };

  private async deliverNow(peerId: string, url: string | undefined, signal?: AbortSignal): Promise<ChatDeliveryReport> {
    const db = this.ctx.home.db;
    const report: ChatDeliveryReport = { delivered: 0, failed: [] };
    const queue = undelivered(db, peerId);
    if (!queue.length) return report;
    const link = new PeerLink(this.ctx, peerId, url);
    for (const m of queue) {
      signal?.throwIfAborted();
      try {
        const r = await link.call<{ accepted?: unknown; duplicate?: unknown }>('POST', '/api/chat', { json: m.envelope, signal });
        if (r.data?.accepted !== true && r.data?.duplicate !== true) throw new Error('the peer did not accept the message');
      } catch (e) {
        const status = refusalStatus(e);
        // "sent_at is in the future": queued while our clock was ahead; it passes once the
        // clocks agree, so it is retried like an unreachable peer, not failed for good.
        if (status !== undefined && PERMANENT.has(status) && !/sent_at is in the future/.test(describeError(e))) {
          const error = describeError(e);
          markFailed(db, peerId, m.id, error);
          report.failed.push({ id: m.id, error });
          this.ctx.log.warn({ peer: peerId, id: m.id, err: error }, 'chat message refused by the peer');
          continue;
        }
        if (isUnreachable(e) || signal?.aborted) throw e;
        report.failed.push({ id: m.id, error: describeError(e) });
        return report; // retried, in order, at the next contact
      }
      markDelivered(db, peerId, m.id, this.ctx.clock());
      this.ctx.events.emit('chat-delivered', peerId, m.id);
      report.delivered++;
    }
    return report;
  }
}
