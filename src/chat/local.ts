import { randomBytes } from 'node:crypto';
import { seal, open, NONCE_LENGTH } from '../crypto/aead.js';
import { hkdf } from '../crypto/kdf.js';
import { CHAT_LOCAL_INFO, TAG_LENGTH } from '../crypto/domains.js';
import { corrupt } from '../errors.js';

// Chat text at rest. placement.db is mode 644 (docs/design.md §1), so every message body is sealed
// before it is stored:
//
//   key   = HKDF-SHA256(ikm = master key, salt = none, info = "grove-chat-local-v1")
//   nonce = 12 random bytes per row (a random 96-bit nonce is safe far past any chat history)
//   AAD   = "grove-chat-local-v1" ‖ 0x00 ‖ peer ‖ 0x00 ‖ direction ‖ 0x00 ‖ id
//   body  = nonce ‖ ChaCha20-Poly1305(text) ‖ tag
//
// The AAD ties a body to its row, so rows cannot be swapped between conversations or
// directions by someone who can write the database. Without the master key the text cannot
// be read; the metadata (peer, times, sizes) can.

export type Direction = 'in' | 'out';

export interface RowRef {
  peer: string;
  direction: Direction;
  id: string;
}

export function chatLocalKey(masterKey: Uint8Array): Buffer {
  return hkdf(masterKey, Buffer.alloc(0), CHAT_LOCAL_INFO);
}

function aad(ref: RowRef): Buffer {
  return Buffer.from([CHAT_LOCAL_INFO, ref.peer, ref.direction, ref.id].join('\0'), 'utf8');
}

export function sealLocal(key: Uint8Array, ref: RowRef, text: string): Buffer {
  const nonce = randomBytes(NONCE_LENGTH);
  return Buffer.concat([nonce, seal(key, nonce, aad(ref), Buffer.from(text, 'utf8'))]);
}

/** Opens a stored body; CORRUPT if it was altered, moved to another row, or sealed under another key. */
export function openLocal(key: Uint8Array, ref: RowRef, body: Uint8Array): string {
  const b = Buffer.from(body);
  if (b.length < NONCE_LENGTH + TAG_LENGTH) throw corrupt('stored chat message is truncated');
  return open(key, b.subarray(0, NONCE_LENGTH), aad(ref), b.subarray(NONCE_LENGTH)).toString('utf8');
}
