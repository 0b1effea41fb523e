import { seal, open } from '../crypto/aead.js';
import { canonicalBytes } from '../crypto/canonical.js';
import { MANIFEST_AAD, CHUNK_SIZE } from '../crypto/domains.js';
import { isHash, isCellId } from '../crypto/encoding.js';
import { corrupt } from '../errors.js';

// docs/design.md §2 FileManifest. snake_case fields as in the seed. `size` of a chunk entry is the
// plaintext length of that chunk (stored length = size + 16).

export interface ChunkInfo {
  hash: string;
  size: number;
  index: number;
}

export interface FileManifest {
  filename: string;
  source_path: string;
  chunks: ChunkInfo[];
  total_size: number;
  file_hash: string;
  encryption: {
    cipher: 'chacha20-poly1305';
    kdf: 'hkdf-sha256';
    chunk_size: number;
  };
  version: number;
  synced_at: number;
  owner: string;
}

export const ENCRYPTION_META: FileManifest['encryption'] = {
  cipher: 'chacha20-poly1305',
  kdf: 'hkdf-sha256',
  chunk_size: CHUNK_SIZE,
};

/** nonce = 0xffffffff ‖ 8 zero bytes: never collides with a chunk nonce (4 zero bytes ‖ i). */
export const MANIFEST_NONCE = Buffer.from('ffffffff0000000000000000', 'hex');

export function sealManifest(fileKey: Uint8Array, m: FileManifest): Buffer {
  return seal(fileKey, MANIFEST_NONCE, Buffer.from(MANIFEST_AAD), canonicalBytes(m));
}

export function openManifest(fileKey: Uint8Array, sealed: Uint8Array): FileManifest {
  const plain = open(fileKey, MANIFEST_NONCE, Buffer.from(MANIFEST_AAD), sealed);
  let parsed: unknown;
  try {
    parsed = JSON.parse(plain.toString('utf8'));
  } catch {
    throw corrupt('manifest is not JSON');
  }
  return validateManifest(parsed);
}

export function validateManifest(v: unknown): FileManifest {
  const m = v as FileManifest;
  const bad = (why: string) => corrupt(`invalid manifest: ${why}`);
  if (!m || typeof m !== 'object') throw bad('not an object');
  if (typeof m.filename !== 'string' || typeof m.source_path !== 'string') throw bad('names');
  if (!Number.isSafeInteger(m.total_size) || m.total_size < 0) throw bad('total_size');
  if (!isHash(m.file_hash)) throw bad('file_hash');
  if (!Number.isSafeInteger(m.version) || m.version < 1) throw bad('version');
  if (!Number.isSafeInteger(m.synced_at)) throw bad('synced_at');
  if (!isCellId(m.owner)) throw bad('owner');
  if (!m.encryption || m.encryption.chunk_size !== CHUNK_SIZE) throw bad('encryption');
  if (!Array.isArray(m.chunks) || m.chunks.length < 1) throw bad('chunks');
  let sum = 0;
  m.chunks.forEach((c, i) => {
    if (!c || !isHash(c.hash) || c.index !== i || !Number.isSafeInteger(c.size) || c.size < 0 || c.size > CHUNK_SIZE) {
      throw bad(`chunk ${i}`);
    }
    sum += c.size;
  });
  if (sum !== m.total_size) throw bad('sizes');
  return m;
}
