import type { Command } from 'commander';
import { daemonOr } from '../cell.js';
import { emit, withHome } from '../context.js';
import { termSafe, termText } from '../term.js';
import { onInterrupt } from '../interrupt.js';
import { PeerRegistry } from '../../peers/registry.js';
import { conversation, type ChatLine } from '../../chat/messages.js';
import { usage } from '../../errors.js';

// `grove chat PEER MESSAGE` sends (through the daemon when it runs; queued if the peer is
// offline); `grove chat PEER` prints the conversation, decrypted from this home.

export function registerChat(program: Command): void {
  program
    .command('chat <peer> [message...]')
    .description('send an encrypted message to a peer, or show the conversation with it')
    .option('--limit <n>', 'show only the last N messages')
    .action(async (peer: string, words: string[], opts: { limit?: string }, cmd: Command) => {
      if (words.length) {
        const text = words.join(' ');
        const r = await daemonOr(cmd, 'chat-send', { peer, text }, async (cell) => {
          const interrupt = onInterrupt();
          try {
            return await cell.chat.send(peer, text, interrupt.signal);
          } finally {
            interrupt.dispose();
          }
        });
        emit(cmd, { message: r }, r.delivered ? 'delivered' : 'queued: the peer is offline; delivered at the next contact');
        return;
      }
      let limit: number | undefined;
      if (opts.limit !== undefined) {
        limit = Number(opts.limit);
        if (!/^\d+$/.test(opts.limit) || !Number.isSafeInteger(limit) || limit < 1) throw usage('--limit must be a positive integer');
      }
      await withHome(cmd, (home) => {
        const p = new PeerRegistry(home.db, Date.now).resolve(peer);
        const messages = conversation(home, p.id, limit);
        emit(cmd, { messages }, () => transcript(messages, home.keys.cellId, p.name));
      });
    });
}

function transcript(messages: ChatLine[], self: string, peerName: string): string {
  if (!messages.length) return `no messages with ${termSafe(peerName)} yet`;
  return messages.map((m) => {
    const when = new Date(m.sent_at).toISOString().replace(/\.\d+Z$/, 'Z').replace('T', ' ');
    const who = m.from === self ? 'you' : termSafe(peerName);
    const state = m.from !== self ? '' : m.error ? `  [refused: ${termSafe(m.error)}]` : m.delivered ? '' : '  [queued]';
    // A peer's text must not drive the terminal (src/cli/term.ts): lines kept, controls escaped.
    return `${when}  ${who}: ${termText(m.text)}${state}`;
  }).join('\n');
}
