import { randomBytes, type KeyObject } from 'node:crypto';
import { seal, open, NONCE_LENGTH } from '../crypto/aead.js';
import { CHAT_INFO, TAG_LENGTH } from '../crypto/domains.js';
import { senderAgreement, recipientAgreement } from '../crypto/ephemeral.js';
import { cellIdFromPublic, type KeyPair } from '../crypto/keys.js';
import { signObject, verifyObjectByCell } from '../crypto/sign.js';
import { badInput, forbidden, unauthenticated, isGroveError } from '../errors.js';
import { expectExactKeys, isWellFormedUtf16, parseBase64, parseCellId, parseUint } from './strict.js';

// Chat message envelope (docs/design.md §2 "Chat"; seed "Chat Encryption"). docs/formats.md#chat-messages.
//
//   v           1
//   id          32 lowercase hex (16 random bytes): the message's identity, for exactly-once
//               delivery and replay refusal (the chat service keeps the seen set)
//   from, to    sender and recipient cell IDs
//   sent_at     sender's clock, milliseconds since the Unix epoch
//   seq         the sender's sequence number within this conversation (ordering, gaps)
//   eph         base64 raw X25519 ephemeral public key (32 bytes), fresh per message
//   nonce       base64 12 random bytes
//   ciphertext  base64 ChaCha20-Poly1305(UTF-8 text) ‖ tag, text 1..65536 bytes
//               key = HKDF-SHA256(X25519(eph, recipient_x25519), salt = eph ‖ recipient_x25519_pub,
//                     info = "grove-chat-v1")
//               AAD = v (1 byte) ‖ from key (32) ‖ to key (32) ‖ id (16) ‖ uint64be sent_at ‖ uint64be seq
//   signature   base64 Ed25519 by `from` over the RFC 8785 canonical JSON of the other fields
//
// The key is fresh per message, so the random nonce is not what keeps (key, nonce) unique; it
// is kept because docs/design.md §2 asks for a unique nonce and it costs 16 characters. The AAD repeats
// the signed header so a ciphertext cannot be lifted into another envelope and re-signed by
// someone else (e.g. claimed as their own message): it would no longer decrypt.
// Not provided here: forward secrecy against a later theft of the recipient's static X25519
// key (that needs a ratchet), and replay refusal (stateful: the chat service).

export const CHAT_VERSION = 1;
export const MAX_CHAT_TEXT_BYTES = 64 * 1024;
const ID_BYTES = 16;
const ID_HEX = /^[0-9a-f]{32}$/;

export interface ChatEnvelope {
  v: 1;
  id: string;
  from: string;
  to: string;
  sent_at: number;
  seq: number;
  eph: string;
  nonce: string;
  ciphertext: string;
  signature: string;
}

export const CHAT_FIELDS = [
  'v', 'id', 'from', 'to', 'sent_at', 'seq', 'eph', 'nonce', 'ciphertext', 'signature',
] as const satisfies readonly (keyof ChatEnvelope)[];

/** Upper bound on an envelope's JSON size, for request body limits (a test checks the worst case fits). */
export const MAX_CHAT_ENVELOPE_JSON_BYTES = 96 * 1024;

export interface ChatMessage {
  id: string;
  from: string;
  to: string;
  text: string;
  sent_at: number;
  seq: number;
}

export interface SealMessageInput {
  /** The sender's Ed25519 identity (only the private key and raw public key are used). */
  identity: Pick<KeyPair, 'privateKey' | 'publicRaw'>;
  /** Must be the cell ID of `identity`. */
  fromId: string;
  toId: string;
  /** The recipient's X25519 public key (32 raw bytes), learned authenticated from the recipient. */
  recipientX25519Raw: Uint8Array;
  text: string;
  /** Milliseconds since the Unix epoch. */
  sentAt: number;
  seq: number;
  /** Golden vectors / tests only; default 16 random bytes as hex. */
  id?: string;
  /** Golden vectors only; default a fresh X25519 key pair. */
  eph?: KeyObject;
  /** Golden vectors only; default 12 random bytes. */
  nonce?: Uint8Array;
}

export interface OpenMessageKeys {
  /** Our own cell ID: a message to anyone else is refused. */
  expectedTo: string;
  x25519PrivateKey: KeyObject;
  /** The raw 32-byte public half of `x25519PrivateKey`. */
  x25519PublicRaw: Uint8Array;
}

/** Encrypts and signs one message. Throws BAD_INPUT if any input is outside the format. */
export function sealMessage(input: SealMessageInput): ChatEnvelope {
  const fromRaw = parseCellId(input.fromId, 'fromId');
  if (cellIdFromPublic(input.identity.publicRaw) !== input.fromId) throw badInput('fromId is not the identity key');
  const toRaw = parseCellId(input.toId, 'toId');
  const plain = textBytes(input.text);
  parseUint(input.sentAt, 'sentAt');
  parseUint(input.seq, 'seq');
  const id = input.id ?? randomBytes(ID_BYTES).toString('hex');
  if (!ID_HEX.test(id)) throw badInput('id: must be 32 lowercase hex characters');
  const nonce = Buffer.from(input.nonce ?? randomBytes(NONCE_LENGTH));
  if (nonce.length !== NONCE_LENGTH) throw badInput('nonce must be 12 bytes');
  if (!(input.recipientX25519Raw instanceof Uint8Array)) throw badInput('recipientX25519Raw must be bytes');

  const { ephPublicRaw, key } = senderAgreement(input.recipientX25519Raw, CHAT_INFO, input.eph);
  const aad = chatAad(fromRaw, toRaw, Buffer.from(id, 'hex'), input.sentAt, input.seq);
  const body: Omit<ChatEnvelope, 'signature'> = {
    v: CHAT_VERSION,
    id,
    from: input.fromId,
    to: input.toId,
    sent_at: input.sentAt,
    seq: input.seq,
    eph: ephPublicRaw.toString('base64'),
    nonce: nonce.toString('base64'),
    ciphertext: seal(key, nonce, aad, plain).toString('base64'),
  };
  return signObject(input.identity.privateKey, body);
}

/**
 * Checks and decrypts a received envelope: exact shape and encodings (BAD_INPUT), addressed
 * to `keys.expectedTo` (FORBIDDEN), signed by `from` (UNAUTHENTICATED), decrypts under our
 * X25519 key (UNAUTHENTICATED: a peer's message that does not open is bad peer input, not a
 * corrupt local object), and holds well-formed text (BAD_INPUT).
 */
export function openMessage(envelope: unknown, keys: OpenMessageKeys): ChatMessage {
  const e = parseEnvelope(envelope);
  if (e.to !== keys.expectedTo) throw forbidden('message is addressed to another cell');
  if (!verifyObjectByCell(e.from, e)) throw unauthenticated('bad message signature');
  let plain: Buffer;
  try {
    const key = recipientAgreement(Buffer.from(e.eph, 'base64'), keys.x25519PrivateKey, keys.x25519PublicRaw, CHAT_INFO);
    const aad = chatAad(parseCellId(e.from, 'from'), parseCellId(e.to, 'to'), Buffer.from(e.id, 'hex'), e.sent_at, e.seq);
    plain = open(key, Buffer.from(e.nonce, 'base64'), aad, Buffer.from(e.ciphertext, 'base64'));
  } catch (err) {
    if (isGroveError(err) && err.code === 'CORRUPT') throw unauthenticated('message does not decrypt');
    throw err;
  }
  const text = decodeText(plain);
  return { id: e.id, from: e.from, to: e.to, text, sent_at: e.sent_at, seq: e.seq };
}

/** Structural validation only (no signature check): BAD_INPUT unless every field is well formed. */
export function parseEnvelope(v: unknown): ChatEnvelope {
  const o = expectExactKeys(v, CHAT_FIELDS, 'chat message');
  if (o.v !== CHAT_VERSION) throw badInput('v: unsupported version');
  if (typeof o.id !== 'string' || !ID_HEX.test(o.id)) throw badInput('id: must be 32 lowercase hex characters');
  parseCellId(o.from, 'from');
  parseCellId(o.to, 'to');
  parseUint(o.sent_at, 'sent_at');
  parseUint(o.seq, 'seq');
  parseBase64(o.eph, 'eph', 32, 32);
  parseBase64(o.nonce, 'nonce', NONCE_LENGTH, NONCE_LENGTH);
  parseBase64(o.ciphertext, 'ciphertext', 1 + TAG_LENGTH, MAX_CHAT_TEXT_BYTES + TAG_LENGTH);
  parseBase64(o.signature, 'signature', 64, 64);
  return {
    v: CHAT_VERSION,
    id: o.id,
    from: o.from as string,
    to: o.to as string,
    sent_at: o.sent_at as number,
    seq: o.seq as number,
    eph: o.eph as string,
    nonce: o.nonce as string,
    ciphertext: o.ciphertext as string,
    signature: o.signature as string,
  };
}

/** AAD: v ‖ from Ed25519 key ‖ to Ed25519 key ‖ id ‖ uint64be sent_at ‖ uint64be seq (97 bytes). */
export function chatAad(fromRaw: Uint8Array, toRaw: Uint8Array, id: Uint8Array, sentAt: number, seq: number): Buffer {
  const tail = Buffer.alloc(16);
  tail.writeBigUInt64BE(BigInt(sentAt), 0);
  tail.writeBigUInt64BE(BigInt(seq), 8);
  return Buffer.concat([Buffer.from([CHAT_VERSION]), fromRaw, toRaw, id, tail]);
}

function textBytes(text: unknown): Buffer {
  if (typeof text !== 'string') throw badInput('text: not a string');
  if (text.length > MAX_CHAT_TEXT_BYTES) throw badInput(`text: more than ${MAX_CHAT_TEXT_BYTES} UTF-8 bytes`);
  if (!isWellFormedUtf16(text)) throw badInput('text: not well-formed Unicode');
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length === 0) throw badInput('text: empty');
  if (bytes.length > MAX_CHAT_TEXT_BYTES) throw badInput(`text: more than ${MAX_CHAT_TEXT_BYTES} UTF-8 bytes`);
  return bytes;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeText(bytes: Buffer): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw badInput('text: not UTF-8');
  }
}
