import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { hkdf } from './kdf.js';
import { rawPublic, x25519, x25519PublicFromRaw } from './keys.js';
import { badInput, corrupt } from '../errors.js';

// Ephemeral-static X25519 agreement used by share grants and chat messages (docs/design.md §2):
//
//   shared = X25519(eph_priv, recipient_pub)            (= X25519(recipient_priv, eph_pub))
//   key    = HKDF-SHA256(ikm = shared, salt = eph_pub ‖ recipient_pub, info, 32 bytes)
//
// Salting with both public keys binds the key to this exact exchange (as HPKE's kem_context
// does), so the key cannot be reused for another recipient key or another ephemeral key.
// `info` is the format's domain string (GRANT_INFO, CHAT_INFO): a grant key is never a chat key.
//
// OpenSSL refuses an all-zero shared secret (a low-order public key); that surfaces here as
// BAD_INPUT on the sender side (the recipient key is bad) and CORRUPT on the recipient side
// (the received ephemeral key is bad).

export interface SenderAgreement {
  /** The raw 32-byte ephemeral public key, sent along with the ciphertext. */
  ephPublicRaw: Buffer;
  /** The 32-byte symmetric key. */
  key: Buffer;
}

/**
 * Sender side. `ephemeral` is for golden vectors only: a real caller never passes it, so
 * every call uses a fresh key pair and therefore a fresh symmetric key.
 */
export function senderAgreement(recipientPublicRaw: Uint8Array, info: string, ephemeral?: KeyObject): SenderAgreement {
  if (recipientPublicRaw.length !== 32) throw badInput('recipient X25519 key must be 32 bytes');
  const ephPriv = ephemeral ?? generateKeyPairSync('x25519').privateKey;
  checkX25519Private(ephPriv, 'ephemeral key');
  const ephPublicRaw = rawPublic(createPublicKey(ephPriv));
  let shared: Buffer;
  try {
    shared = x25519(ephPriv, x25519PublicFromRaw(recipientPublicRaw));
  } catch {
    throw badInput('recipient X25519 key is not usable');
  }
  return { ephPublicRaw, key: deriveKey(shared, ephPublicRaw, recipientPublicRaw, info) };
}

/**
 * Recipient side. `ownPublicRaw` must be the public half of `ownPrivate` (checked: a mismatch
 * is a programmer error, not bad data).
 */
export function recipientAgreement(ephPublicRaw: Uint8Array, ownPrivate: KeyObject, ownPublicRaw: Uint8Array, info: string): Buffer {
  checkX25519Private(ownPrivate, 'own X25519 key');
  if (!rawPublic(createPublicKey(ownPrivate)).equals(ownPublicRaw)) {
    throw new RangeError('own X25519 public key does not match the private key');
  }
  if (ephPublicRaw.length !== 32) throw corrupt('bad ephemeral key');
  let shared: Buffer;
  try {
    shared = x25519(ownPrivate, x25519PublicFromRaw(ephPublicRaw));
  } catch {
    throw corrupt('key agreement failed');
  }
  return deriveKey(shared, ephPublicRaw, ownPublicRaw, info);
}

function deriveKey(shared: Buffer, ephPublicRaw: Uint8Array, recipientPublicRaw: Uint8Array, info: string): Buffer {
  return hkdf(shared, Buffer.concat([ephPublicRaw, recipientPublicRaw]), info);
}

function checkX25519Private(k: KeyObject, what: string): void {
  if (k.type !== 'private' || k.asymmetricKeyType !== 'x25519') throw new TypeError(`${what} must be an X25519 private key`);
}
