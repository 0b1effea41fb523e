import type { ErrorCode } from '../errors.js';

// Messages between the main thread and seal-worker. Bulk data always travels as a
// transferred ArrayBuffer plus a length (the buffer may be larger than the data: the
// main thread reuses fixed 4 MiB buffers). `seal` and `open` also carry the output buffer,
// so no chunk-sized memory is allocated per chunk on either side; every buffer comes back.

export type WorkerRequest =
  | { id: number; op: 'seal'; key: Uint8Array; fileHash: Uint8Array; index: number; data: ArrayBuffer; length: number; out: ArrayBuffer }
  | { id: number; op: 'open'; key: Uint8Array; fileHash: Uint8Array; index: number; expectHash: string; data: ArrayBuffer; length: number; out: ArrayBuffer }
  | { id: number; op: 'hash'; data: ArrayBuffer; length: number }
  | { id: number; op: 'stream-update'; stream: number; data: ArrayBuffer; length: number }
  | { id: number; op: 'stream-final'; stream: number }
  | { id: number; op: 'stream-drop'; stream: number };

export type WorkerReply =
  | { id: number; ok: true; op: 'seal'; hash: string; sealedLength: number; data: ArrayBuffer; out: ArrayBuffer }
  | { id: number; ok: true; op: 'open'; status: 'ok' | 'hash' | 'tag'; plainLength: number; data: ArrayBuffer; out: ArrayBuffer }
  | { id: number; ok: true; op: 'hash'; hash: string; data: ArrayBuffer }
  | { id: number; ok: true; op: 'stream-update'; data: ArrayBuffer }
  | { id: number; ok: true; op: 'stream-final'; digest: Uint8Array }
  | { id: number; ok: true; op: 'stream-drop' }
  | { id: number; ok: false; error: { code: ErrorCode; message: string } };

/**
 * An ArrayBuffer holding exactly `buf`, safe to transfer: the buffer's own backing store
 * when `buf` owns all of it, else a copy. (Small Buffers live in Node's shared pool, which
 * must never be transferred.)
 */
export function exclusiveArrayBuffer(buf: Uint8Array): ArrayBuffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) {
    return buf.buffer;
  }
  const ab = new ArrayBuffer(buf.byteLength);
  new Uint8Array(ab).set(buf);
  return ab;
}
