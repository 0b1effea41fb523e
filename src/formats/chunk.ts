import { seal, open, sealInto, openInto } from '../crypto/aead.js';

// docs/design.md §2: chunk i is sealed under file_key with nonce = 4 zero bytes ‖ uint64be(i) and
// AAD = file_hash ‖ uint64be(i). Deterministic, so identical chunks dedupe; the AAD binds
// every chunk to its file and position, so swapping or reordering fails authentication.

export function chunkNonce(index: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(index), 4);
  return n;
}

export function chunkAad(fileHash: Uint8Array, index: number): Buffer {
  const a = Buffer.alloc(40);
  Buffer.from(fileHash).copy(a, 0);
  a.writeBigUInt64BE(BigInt(index), 32);
  return a;
}

export function sealChunk(fileKey: Uint8Array, fileHash: Uint8Array, index: number, plaintext: Uint8Array): Buffer {
  return seal(fileKey, chunkNonce(index), chunkAad(fileHash, index), plaintext);
}

export function openChunk(fileKey: Uint8Array, fileHash: Uint8Array, index: number, sealed: Uint8Array): Buffer {
  return open(fileKey, chunkNonce(index), chunkAad(fileHash, index), sealed);
}

/** `sealChunk` into a caller-owned buffer (reused across chunks); returns the sealed length. */
export function sealChunkInto(out: Uint8Array, fileKey: Uint8Array, fileHash: Uint8Array, index: number, plaintext: Uint8Array, piece?: number): number {
  return sealInto(out, fileKey, chunkNonce(index), chunkAad(fileHash, index), plaintext, piece);
}

/** `openChunk` into a caller-owned buffer; returns the plaintext length. */
export function openChunkInto(out: Uint8Array, fileKey: Uint8Array, fileHash: Uint8Array, index: number, sealed: Uint8Array, piece?: number): number {
  return openInto(out, fileKey, chunkNonce(index), chunkAad(fileHash, index), sealed, piece);
}
