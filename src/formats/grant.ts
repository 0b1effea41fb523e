import type { KeyObject } from 'node:crypto';
import { seal, open, NONCE_LENGTH } from '../crypto/aead.js';
import { GRANT_INFO, KEY_LENGTH, TAG_LENGTH } from '../crypto/domains.js';
import { senderAgreement, recipientAgreement } from '../crypto/ephemeral.js';
import { cellIdFromPublic, type KeyPair } from '../crypto/keys.js';
import { signObject, verifyObjectByCell } from '../crypto/sign.js';
import { badInput, forbidden, unauthenticated } from '../errors.js';
import {
  expectExactKeys, isWellFormedUtf16, parseBase64, parseCellId, parseHash, parseUint,
} from './strict.js';

// ShareGrant (docs/design.md §2; seed "Sharing Flow" and "Classes"). A grant gives one recipient cell
// the file_key of one manifest, signed by the creator. Encodings (docs/formats.md#share-grants):
//
//   manifest_hash       64 lowercase hex: SHA-256 of the sealed manifest object
//   creator_pubkey      the creator's cell ID (base32 Ed25519 public key); the signer
//   recipient_pubkey    the recipient's cell ID
//   encrypted_file_key  base64( eph_pub (32) ‖ ChaCha20-Poly1305(file_key) (32) ‖ tag (16) ) = 80 bytes
//                       key   = HKDF-SHA256(X25519(eph, recipient_x25519), salt = eph_pub ‖
//                               recipient_x25519_pub, info = "grove-grant-v1")
//                       nonce = 12 zero bytes
//                       AAD   = manifest_hash digest (32) ‖ creator Ed25519 key (32) ‖ recipient Ed25519 key (32)
//   granted_at          milliseconds since the Unix epoch
//   filename            one path component: 1..255 UTF-8 bytes, no '/', '\', control or bidi-override characters, not '.'/'..'
//   file_type           a lowercase MIME type "type/subtype" without parameters
//   total_size          plaintext bytes
//   signature           base64 Ed25519 signature by creator_pubkey over the RFC 8785 canonical
//                       JSON of the other eight fields
//
// Why a zero nonce is safe: the wrap key is derived from a fresh ephemeral X25519 key pair, so
// each key seals exactly one plaintext; a nonce only has to be unique per key.
// Why this AAD: it ties the wrapped key to one manifest and one (creator, recipient) pair. The
// signature already covers those fields, but only the AAD stops someone who saw a grant from
// re-signing its encrypted_file_key under their own identity (claiming to share a file they
// cannot read) or attaching it to another manifest: such a grant verifies but never unwraps.

export interface ShareGrant {
  manifest_hash: string;
  encrypted_file_key: string;
  creator_pubkey: string;
  recipient_pubkey: string;
  signature: string;
  granted_at: number;
  filename: string;
  file_type: string;
  total_size: number;
}

export const GRANT_FIELDS = [
  'manifest_hash', 'encrypted_file_key', 'creator_pubkey', 'recipient_pubkey', 'signature',
  'granted_at', 'filename', 'file_type', 'total_size',
] as const satisfies readonly (keyof ShareGrant)[];

export const GRANT_WRAP_NONCE: Buffer = Buffer.alloc(NONCE_LENGTH);
/** eph_pub ‖ sealed file_key. */
export const WRAPPED_KEY_LENGTH = 32 + KEY_LENGTH + TAG_LENGTH;
export const MAX_FILENAME_BYTES = 255;
export const MAX_FILE_TYPE_LENGTH = 255;
/** Upper bound on a grant's JSON size, for request body limits (a test checks the worst case fits). */
export const MAX_GRANT_JSON_BYTES = 4096;

export interface CreateGrantInput {
  /** The creator's Ed25519 identity (only the private key and raw public key are used). */
  identity: Pick<KeyPair, 'privateKey' | 'publicRaw'>;
  /** Must be the cell ID of `identity`. */
  creatorId: string;
  recipientId: string;
  /** The recipient's X25519 public key (32 raw bytes), learned authenticated from the recipient. */
  recipientX25519Raw: Uint8Array;
  manifestHash: string;
  fileKey: Uint8Array;
  filename: string;
  fileType: string;
  totalSize: number;
  /** Milliseconds since the Unix epoch. */
  grantedAt: number;
  /**
   * Golden vectors only: the ephemeral X25519 private key. Never pass it otherwise: two grants
   * to one recipient under one ephemeral key would share a key and (zero) nonce.
   */
  ephemeralPrivateKey?: KeyObject;
}

/** Builds and signs a grant. Throws BAD_INPUT if any input is outside the format. */
export function createGrant(input: CreateGrantInput): ShareGrant {
  const creatorRaw = parseCellId(input.creatorId, 'creatorId');
  if (cellIdFromPublic(input.identity.publicRaw) !== input.creatorId) throw badInput('creatorId is not the identity key');
  const recipientRaw = parseCellId(input.recipientId, 'recipientId');
  const manifestDigest = parseHash(input.manifestHash, 'manifestHash');
  if (!(input.fileKey instanceof Uint8Array) || input.fileKey.length !== KEY_LENGTH) throw badInput('fileKey must be 32 bytes');
  if (!(input.recipientX25519Raw instanceof Uint8Array)) throw badInput('recipientX25519Raw must be bytes');
  checkFilename(input.filename);
  checkFileType(input.fileType);
  parseUint(input.totalSize, 'totalSize');
  parseUint(input.grantedAt, 'grantedAt');

  const { ephPublicRaw, key } = senderAgreement(input.recipientX25519Raw, GRANT_INFO, input.ephemeralPrivateKey);
  const sealed = seal(key, GRANT_WRAP_NONCE, grantAad(manifestDigest, creatorRaw, recipientRaw), input.fileKey);
  const body: Omit<ShareGrant, 'signature'> = {
    manifest_hash: input.manifestHash,
    encrypted_file_key: Buffer.concat([ephPublicRaw, sealed]).toString('base64'),
    creator_pubkey: input.creatorId,
    recipient_pubkey: input.recipientId,
    granted_at: input.grantedAt,
    filename: input.filename,
    file_type: input.fileType,
    total_size: input.totalSize,
  };
  return signObject(input.identity.privateKey, body);
}

/**
 * Checks a received grant: exact shape and encodings (BAD_INPUT), addressed to
 * `expectedRecipientId` (FORBIDDEN), signed by creator_pubkey (UNAUTHENTICATED).
 * Returns a fresh copy holding only the grant's fields.
 */
export function verifyGrant(grant: unknown, expectedRecipientId: string): ShareGrant {
  const g = parseGrant(grant);
  if (g.recipient_pubkey !== expectedRecipientId) throw forbidden('grant is addressed to another cell');
  checkSignature(g);
  return g;
}

/**
 * Recovers the file key. Re-checks the grant's shape and signature first (BAD_INPUT,
 * UNAUTHENTICATED), so an unverified grant is never trusted; any failure to unwrap (another
 * recipient's key, altered bytes, a grant re-signed by someone else) is CORRUPT.
 */
export function unwrapFileKey(grant: ShareGrant, recipientX25519PrivateKey: KeyObject, recipientX25519PubRaw: Uint8Array): Buffer {
  const g = parseGrant(grant);
  checkSignature(g);
  const wrapped = Buffer.from(g.encrypted_file_key, 'base64');
  const eph = wrapped.subarray(0, 32);
  const key = recipientAgreement(eph, recipientX25519PrivateKey, recipientX25519PubRaw, GRANT_INFO);
  const aad = grantAad(Buffer.from(g.manifest_hash, 'hex'), parseCellId(g.creator_pubkey, 'creator_pubkey'),
    parseCellId(g.recipient_pubkey, 'recipient_pubkey'));
  return open(key, GRANT_WRAP_NONCE, aad, wrapped.subarray(32));
}

/** Structural validation only (no signature check): BAD_INPUT unless every field is well formed. */
export function parseGrant(v: unknown): ShareGrant {
  const o = expectExactKeys(v, GRANT_FIELDS, 'grant');
  parseHash(o.manifest_hash, 'manifest_hash');
  parseBase64(o.encrypted_file_key, 'encrypted_file_key', WRAPPED_KEY_LENGTH, WRAPPED_KEY_LENGTH);
  parseCellId(o.creator_pubkey, 'creator_pubkey');
  parseCellId(o.recipient_pubkey, 'recipient_pubkey');
  parseBase64(o.signature, 'signature', 64, 64);
  parseUint(o.granted_at, 'granted_at');
  checkFilename(o.filename);
  checkFileType(o.file_type);
  parseUint(o.total_size, 'total_size');
  return {
    manifest_hash: o.manifest_hash as string,
    encrypted_file_key: o.encrypted_file_key as string,
    creator_pubkey: o.creator_pubkey as string,
    recipient_pubkey: o.recipient_pubkey as string,
    signature: o.signature as string,
    granted_at: o.granted_at as number,
    filename: o.filename as string,
    file_type: o.file_type as string,
    total_size: o.total_size as number,
  };
}

/** AAD of the key wrap: manifest_hash digest ‖ creator Ed25519 key ‖ recipient Ed25519 key (96 bytes). */
export function grantAad(manifestDigest: Uint8Array, creatorRaw: Uint8Array, recipientRaw: Uint8Array): Buffer {
  return Buffer.concat([manifestDigest, creatorRaw, recipientRaw]);
}

// C0 controls, DEL, C1 controls, bidi embeddings/overrides/isolates (they let a name display
// as something else, e.g. "gpj.exe" shown as "exe.jpg"), and path separators.
// eslint-disable-next-line no-control-regex
const FILENAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069/\\]/;

/** A single path component the recipient can show and save. */
function checkFilename(v: unknown): void {
  if (typeof v !== 'string') throw badInput('filename: not a string');
  if (v.length === 0 || v.length > MAX_FILENAME_BYTES || Buffer.byteLength(v, 'utf8') > MAX_FILENAME_BYTES) {
    throw badInput(`filename: must be 1..${MAX_FILENAME_BYTES} UTF-8 bytes`);
  }
  if (!isWellFormedUtf16(v) || FILENAME_FORBIDDEN.test(v) || v === '.' || v === '..') {
    throw badInput('filename: not a plain file name');
  }
}

// RFC 6838 restricted-name characters, lowercase only (so each type has one spelling).
const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/;

function checkFileType(v: unknown): void {
  if (typeof v !== 'string' || v.length > MAX_FILE_TYPE_LENGTH || !MIME.test(v)) {
    throw badInput('file_type: not a lowercase MIME type');
  }
}

function checkSignature(g: ShareGrant): void {
  if (!verifyObjectByCell(g.creator_pubkey, g)) throw unauthenticated('bad grant signature');
}
