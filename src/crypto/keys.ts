import {
  createPrivateKey, createPublicKey, generateKeyPairSync, sign as edSign, verify as edVerify,
  diffieHellman, type KeyObject,
} from 'node:crypto';
import { toBase32, fromBase32, isCellId } from './encoding.js';
import { badInput } from '../errors.js';

// Raw 32-byte public keys are extracted from / wrapped into SPKI DER with these fixed prefixes.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The raw 32-byte public key. */
  publicRaw: Buffer;
}

export function generateEd25519(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKey, publicRaw: rawPublic(publicKey) };
}

export function generateX25519(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { privateKey, publicKey, publicRaw: rawPublic(publicKey) };
}

export function keyPairFromPem(pem: string | Buffer): KeyPair {
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  return { privateKey, publicKey, publicRaw: rawPublic(publicKey) };
}

export function privateKeyPem(k: KeyObject): string {
  return k.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function rawPublic(pub: KeyObject): Buffer {
  const der = pub.export({ type: 'spki', format: 'der' });
  return Buffer.from(der.subarray(der.length - 32));
}

export function ed25519PublicFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw badInput('bad ed25519 public key');
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function x25519PublicFromRaw(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw badInput('bad x25519 public key');
  return createPublicKey({ key: Buffer.concat([X25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

/** Cell ID = Ed25519 public key, lowercase base32, no padding (docs/design.md §1). */
export function cellIdFromPublic(raw: Uint8Array): string {
  return toBase32(raw);
}

/** Cell IDs whose key objects are kept: every signed request parses its sender's key otherwise. */
const PUBLIC_CACHE_SIZE = 256;
const publicCache = new Map<string, KeyObject>();

export function publicFromCellId(id: string): KeyObject {
  const hit = publicCache.get(id);
  if (hit) {
    // Least recently used goes first: strangers naming new IDs cannot push out the peers in use.
    publicCache.delete(id);
    publicCache.set(id, hit);
    return hit;
  }
  if (!isCellId(id)) throw badInput('not a cell ID');
  const raw = fromBase32(id);
  if (raw.length !== 32) throw badInput('not a cell ID');
  const key = ed25519PublicFromRaw(raw);
  // Strangers may name any ID: the oldest entry goes once the cache is full.
  if (publicCache.size >= PUBLIC_CACHE_SIZE) publicCache.delete(publicCache.keys().next().value!);
  publicCache.set(id, key);
  return key;
}

export function signBytes(privateKey: KeyObject, data: Uint8Array): Buffer {
  return edSign(null, data, privateKey);
}

export function verifyBytes(publicKey: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return edVerify(null, data, publicKey, signature);
  } catch {
    return false;
  }
}

export function x25519(privateKey: KeyObject, publicKey: KeyObject): Buffer {
  return diffieHellman({ privateKey, publicKey });
}
