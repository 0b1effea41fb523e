import { useEffect, useRef, useState } from 'preact/hooks';
import { get, post } from '../api.js';
import { Empty, ErrorNote, Page, message, useResource } from '../components.js';
import { when } from '../format.js';
import type { ChatLine, Conversation } from '../types.js';
import type { PageProps } from '../main.js';

export function Chat(props: PageProps) {
  const list = useResource(() => get<{ conversations: Conversation[] }>('/api/chat'), ['chat', 'peers']);
  const convs = list.data?.conversations ?? [];
  const selected = props.route[1] ?? convs[0]?.peer;
  return (
    <Page title="Chat">
      <ErrorNote error={list.error} onRetry={list.reload} />
      {list.data && !convs.length ? <Empty title="No peers to talk to yet">Chat is end-to-end encrypted between paired cells. <a href="#/peers">Pair a cell</a> to start.</Empty> : null}
      {convs.length ? (
        <div class="chat">
          <nav class="conversations" aria-label="Conversations">
            {convs.map((c) => (
              <a href={`#/chat/${encodeURIComponent(c.peer)}`} class={c.peer === selected ? 'active' : ''} aria-current={c.peer === selected ? 'true' : undefined} data-testid="conversation">
                <span class="name">{c.name}</span>
                {c.unread ? <span class="badge" aria-label={`${c.unread} unread`}>{c.unread}</span> : null}
                {c.queued ? <span class="pill small" title="Waiting for the peer to come online">{c.queued} queued</span> : null}
              </a>
            ))}
          </nav>
          {selected ? <Conversation peer={selected} self={props.session.id} name={convs.find((c) => c.peer === selected)?.name ?? ''} onRead={list.reload} /> : null}
        </div>
      ) : null}
    </Page>
  );
}

function Conversation(props: { peer: string; self: string; name: string; onRead: () => void }) {
  const conv = useResource(() => get<{ messages: ChatLine[]; read_seq: number }>(`/api/chat/${encodeURIComponent(props.peer)}`), ['chat'], [props.peer]);
  const [text, setText] = useState('');
  const [error, setError] = useState<string>();
  const [sending, setSending] = useState(false);
  const end = useRef<HTMLDivElement>(null);
  const messages = conv.data?.messages ?? [];
  const lastIn = messages.filter((m) => m.from !== props.self).reduce((s, m) => Math.max(s, m.seq), 0);
  useEffect(() => {
    end.current?.scrollIntoView({ block: 'end' });
  }, [messages.length, props.peer]);
  useEffect(() => {
    // Seen on screen: mark read (the unread counts follow through the live feed).
    if (conv.data && lastIn > conv.data.read_seq && document.visibilityState === 'visible') {
      post(`/api/chat/${encodeURIComponent(props.peer)}/read`).then(props.onRead, () => {});
    }
  }, [lastIn, props.peer, conv.data]);
  const send = async (e?: Event) => {
    e?.preventDefault();
    const t = text.trim();
    if (!t) return;
    setSending(true);
    setError(undefined);
    try {
      await post(`/api/chat/${encodeURIComponent(props.peer)}`, { text: t });
      setText('');
      conv.reload();
    } catch (err) {
      setError(message(err));
    } finally {
      setSending(false);
    }
  };
  return (
    <section class="conversation" aria-label={`Conversation with ${props.name}`}>
      <div class="messages" role="log" aria-live="polite" data-testid="messages">
        <ErrorNote error={conv.error} onRetry={conv.reload} />
        {conv.data && !messages.length ? <p class="muted center">No messages with {props.name} yet. Say hello.</p> : null}
        {messages.map((m) => {
          const mine = m.from === props.self;
          return (
            <div class={`msg ${mine ? 'mine' : 'theirs'}`} key={`${m.from}/${m.id}`} data-testid="message">
              <div class="bubble">{m.text}</div>
              <div class="meta">{when(m.sent_at)}{mine ? ` · ${m.error ? `refused: ${m.error}` : m.delivered ? 'delivered' : 'queued'}` : ''}</div>
            </div>
          );
        })}
        <div ref={end} />
      </div>
      <form class="composer" onSubmit={send}>
        <label for="chat-text" class="sr">Message to {props.name}</label>
        <textarea id="chat-text" rows={2} placeholder={`Message ${props.name} (Enter to send, Shift+Enter for a new line)`} value={text} maxLength={16000}
          onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey) void send(e);
          }} />
        <button class="btn primary" type="submit" disabled={sending || !text.trim()}>Send</button>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}
