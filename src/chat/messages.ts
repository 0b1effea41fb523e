import type { Home } from '../home/home.js';
import type { DB } from '../store/db.js';
import { nextCounter, getMeta, setMeta } from '../store/db.js';
import { openMessage, parseEnvelope, sealMessage, type ChatEnvelope, type ChatMessage } from '../formats/chat.js';
import { MAX_SKEW_MS } from '../net/signing.js';
import { GroveError, badInput, forbidden } from '../errors.js';
import { chatLocalKey, openLocal, sealLocal, type Direction } from './local.js';

// The chat_messages table (migration 41) and what goes in and out of it: queueing a message
// we send, accepting one we receive (exactly once), and reading a conversation back. No
// network here; service.ts delivers, routes.ts serves POST /api/chat.

/** A received message sent longer ago than this is refused (a year of being offline). */
export const MAX_CHAT_AGE_MS = 365 * 24 * 3600 * 1000;
/** Text bytes one peer may have stored here (a paired peer is trusted, not unlimited). */
export const MAX_INBOX_BYTES_PER_PEER = 256 * 1024 * 1024;
/** What each message is charged besides its text (its row), so tiny messages are bounded too. */
export const INBOX_BYTES_PER_MESSAGE = 256;
/** meta key prefix of the last sequence number sent to a peer. */
const SEQ_PREFIX = 'chat_seq:';

interface MessageRow {
  peer: string;
  direction: Direction;
  seq: number;
  id: string;
  sent_at: number;
  stored_at: number;
  delivered_at: number | null;
  failed: string | null;
  envelope: string | null;
  body: Buffer;
}

export interface QueuedMessage {
  id: string;
  to: string;
  seq: number;
  sent_at: number;
}

/**
 * Seals a message to a peer (fresh ephemeral key, signed; docs/design.md §2 "Chat") and queues it
 * with the next sequence number of the conversation. Delivery is service.ts's job.
 */
export function queueMessage(home: Home, peer: { id: string; x25519: string }, text: string, now: number): QueuedMessage {
  const db = home.db;
  const key = chatLocalKey(home.keys.master);
  return db.transaction((): QueuedMessage => {
    const seq = nextCounter(db, `${SEQ_PREFIX}${peer.id}`);
    const env = sealMessage({
      identity: home.keys.identity,
      fromId: home.keys.cellId,
      toId: peer.id,
      recipientX25519Raw: Buffer.from(peer.x25519, 'hex'),
      text,
      sentAt: now,
      seq,
    });
    db.prepare(`INSERT INTO chat_messages(peer, direction, seq, id, sent_at, stored_at, envelope, body)
      VALUES (?, 'out', ?, ?, ?, ?, ?, ?)`).run(peer.id, seq, env.id, now, now, JSON.stringify(env),
      sealLocal(key, { peer: peer.id, direction: 'out', id: env.id }, text));
    return { id: env.id, to: peer.id, seq, sent_at: now };
  })();
}

/** Our undelivered messages to a peer, in conversation order. */
export function undelivered(db: DB, peerId: string): { id: string; seq: number; envelope: ChatEnvelope }[] {
  const rows = db.prepare(`SELECT id, seq, envelope FROM chat_messages
    WHERE peer = ? AND direction = 'out' AND delivered_at IS NULL AND failed IS NULL ORDER BY seq`).all(peerId) as { id: string; seq: number; envelope: string }[];
  return rows.map((r) => ({ id: r.id, seq: r.seq, envelope: JSON.parse(r.envelope) as ChatEnvelope }));
}

export function hasUndelivered(db: DB, peerId: string): boolean {
  return db.prepare(`SELECT 1 FROM chat_messages WHERE peer = ? AND direction = 'out' AND delivered_at IS NULL AND failed IS NULL LIMIT 1`).get(peerId) !== undefined;
}

export function markDelivered(db: DB, peerId: string, id: string, now: number): void {
  // The sealed envelope is no longer needed once the peer has it.
  db.prepare(`UPDATE chat_messages SET delivered_at = ?, envelope = NULL WHERE peer = ? AND direction = 'out' AND id = ?`).run(now, peerId, id);
}

export function markFailed(db: DB, peerId: string, id: string, reason: string): void {
  db.prepare(`UPDATE chat_messages SET failed = ? WHERE peer = ? AND direction = 'out' AND id = ?`).run(reason.slice(0, 300), peerId, id);
}

export interface ReceiveResult {
  accepted: boolean;
  duplicate?: true;
}

/**
 * POST /api/chat. `callerId` is the verified signer of the request (a paired peer). Accepted
 * only from the envelope's sender, addressed to this cell, signed, decrypting, sent at a
 * plausible time; a replayed id is a no-op (exactly once); another message in the same seq
 * slot is CONFLICT; past the per-peer inbox bound, QUOTA_EXCEEDED. Anything refused is
 * stored nowhere.
 */
export function receiveMessage(home: Home, callerId: string, body: unknown, now: number): ReceiveResult {
  const env = parseEnvelope(body);
  if (env.from !== callerId) throw forbidden('a message is accepted only from its sender');
  const m = openMessage(env, { expectedTo: home.keys.cellId, x25519PrivateKey: home.keys.x25519.privateKey, x25519PublicRaw: home.keys.x25519.publicRaw });
  if (m.sent_at > now + MAX_SKEW_MS) throw badInput('sent_at is in the future');
  if (m.sent_at < now - MAX_CHAT_AGE_MS) throw badInput('sent_at is too old');
  const db = home.db;
  const key = chatLocalKey(home.keys.master);
  return db.transaction((): ReceiveResult => {
    if (db.prepare(`SELECT 1 FROM chat_messages WHERE peer = ? AND direction = 'in' AND id = ?`).get(m.from, m.id)) {
      return { accepted: false, duplicate: true };
    }
    if (db.prepare(`SELECT 1 FROM chat_messages WHERE peer = ? AND direction = 'in' AND seq = ?`).get(m.from, m.seq)) {
      throw new GroveError('CONFLICT', `another message already has seq ${m.seq}`);
    }
    const used = addInboxBytes(db, m.from, Buffer.byteLength(m.text, 'utf8') + INBOX_BYTES_PER_MESSAGE);
    if (used > MAX_INBOX_BYTES_PER_PEER) throw new GroveError('QUOTA_EXCEEDED', 'your messages fill the space this cell keeps for you');
    db.prepare(`INSERT INTO chat_messages(peer, direction, seq, id, sent_at, stored_at, delivered_at, body)
      VALUES (?, 'in', ?, ?, ?, ?, ?, ?)`).run(m.from, m.seq, m.id, m.sent_at, now, now,
      sealLocal(key, { peer: m.from, direction: 'in', id: m.id }, m.text));
    return { accepted: true };
  })();
}

/** Adds to the running total of text bytes received from a peer (in the caller's transaction, which rolls it back on refusal). */
function addInboxBytes(db: DB, peerId: string, n: number): number {
  const key = `chat_in_bytes:${peerId}`;
  const total = Number(getMeta(db, key) ?? 0) + n;
  setMeta(db, key, String(total));
  return total;
}

export interface ChatLine extends ChatMessage {
  /** Ours: the peer accepted it. Theirs: always true (we have it). */
  delivered: boolean;
  /** Ours: the peer refused it for good. */
  error?: string;
}

/**
 * The conversation with a peer, oldest first. Each side's messages stay in their sender's
 * seq order; the two sides are merged by sent_at (the senders' clocks).
 */
export function conversation(home: Home, peerId: string, limit?: number): ChatLine[] {
  const db = home.db;
  const self = home.keys.cellId;
  const key = chatLocalKey(home.keys.master);
  const rows = (direction: Direction) => db.prepare(`SELECT * FROM chat_messages WHERE peer = ? AND direction = ? ORDER BY seq`)
    .all(peerId, direction) as MessageRow[];
  const line = (r: MessageRow): ChatLine => {
    const out: ChatLine = {
      id: r.id,
      from: r.direction === 'out' ? self : peerId,
      to: r.direction === 'out' ? peerId : self,
      text: openLocal(key, { peer: peerId, direction: r.direction, id: r.id }, r.body),
      sent_at: r.sent_at,
      seq: r.seq,
      delivered: r.delivered_at !== null,
    };
    if (r.failed) out.error = r.failed;
    return out;
  };
  const merged = mergeBySentAt(rows('out'), rows('in'));
  const chosen = limit !== undefined ? merged.slice(Math.max(0, merged.length - limit)) : merged;
  return chosen.map(line);
}

/** Merges two seq-ordered lists by sent_at without reordering either one. */
function mergeBySentAt(a: MessageRow[], b: MessageRow[]): MessageRow[] {
  const out: MessageRow[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.sent_at <= b[j]!.sent_at)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}


/** The last sequence number sent to each peer, for the recovery index. */
export function sentSeqs(db: DB): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of db.prepare("SELECT key, value FROM meta WHERE key LIKE 'chat_seq:%' ORDER BY key").all() as { key: string; value: string }[]) {
    out[r.key.slice(SEQ_PREFIX.length)] = Number(r.value);
  }
  return out;
}

/** Continues a conversation's numbering after `seq` (never moves it back). */
export function raiseSentSeq(db: DB, peerId: string, seq: number): void {
  db.prepare(`INSERT INTO meta(key, value) VALUES (?, ?)
    ON CONFLICT(key) DO UPDATE SET value = CASE WHEN CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER) THEN excluded.value ELSE value END`)
    .run(`${SEQ_PREFIX}${peerId}`, String(seq));
}

/** Whether our outgoing message `id` to `peerId` was delivered. */
export function isDelivered(db: DB, peerId: string, id: string): boolean {
  const r = db.prepare(`SELECT delivered_at FROM chat_messages WHERE peer = ? AND direction = 'out' AND id = ?`).get(peerId, id) as { delivered_at: number | null } | undefined;
  return r?.delivered_at != null;
}

/** A conversation's counts for the dashboard: unread (received after `readSeq`), queued, last time, total. */
export function conversationStats(db: DB, peerId: string, readSeq: number): { unread: number; queued: number; last_at: number | null; total: number } {
  const s = db.prepare(`SELECT
      SUM(CASE WHEN direction = 'in' AND seq > ? THEN 1 ELSE 0 END) AS unread,
      SUM(CASE WHEN direction = 'out' AND delivered_at IS NULL AND failed IS NULL THEN 1 ELSE 0 END) AS queued,
      MAX(sent_at) AS last_at, COUNT(*) AS total
    FROM chat_messages WHERE peer = ?`).get(readSeq, peerId) as { unread: number | null; queued: number | null; last_at: number | null; total: number };
  return { unread: s.unread ?? 0, queued: s.queued ?? 0, last_at: s.last_at, total: s.total };
}

/** The highest sequence number received from the peer (0 when none). */
export function lastReceivedSeq(db: DB, peerId: string): number {
  return (db.prepare(`SELECT MAX(seq) AS s FROM chat_messages WHERE peer = ? AND direction = 'in'`).get(peerId) as { s: number | null }).s ?? 0;
}
