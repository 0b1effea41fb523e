import { hkdfSync } from 'node:crypto';
import { FILE_KEY_SALT, INDEX_KEY_INFO, KEY_LENGTH } from './domains.js';

export function hkdf(ikm: Uint8Array, salt: Uint8Array | string, info: Uint8Array | string, length = KEY_LENGTH): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

/** docs/design.md §2: file_key = HKDF-SHA256(master, salt "grove-file-key-v1", info = file_hash digest). */
export function fileKey(masterKey: Uint8Array, fileHash: Uint8Array): Buffer {
  if (fileHash.length !== 32) throw new RangeError('file hash must be the 32-byte digest');
  return hkdf(masterKey, FILE_KEY_SALT, fileHash);
}

/** Key for the cell's own encrypted file index (the recovery index, docs/formats.md). */
export function indexKey(masterKey: Uint8Array): Buffer {
  return hkdf(masterKey, FILE_KEY_SALT, INDEX_KEY_INFO);
}
