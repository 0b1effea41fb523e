import type { ErrorCode } from '../errors.js';

// Messages between the main thread and seal-worker. Bulk data never travels in messages:
// the chunk buffers are SharedArrayBuffers in rings attached to every worker once
// (`attach`), and jobs name a slot of a ring. Whoever holds a slot (the ring's acquire and
// release on the main thread decide) is the only one touching it, as with a transfer, but
// without a new ArrayBuffer object per message for the garbage collector to chase.

export interface SlotRef {
  ring: number;
  slot: number;
}

export type WorkerRequest =
  | { id: number; op: 'attach'; ring: number; buffers: SharedArrayBuffer[] }
  | { id: number; op: 'detach'; ring: number }
  | { id: number; op: 'seal'; key: Uint8Array; fileHash: Uint8Array; index: number; input: SlotRef; length: number; output: SlotRef }
  | { id: number; op: 'open'; key: Uint8Array; fileHash: Uint8Array; index: number; expectHash: string; input: SlotRef; length: number; output: SlotRef }
  | { id: number; op: 'hash'; input: SlotRef; length: number }
  | { id: number; op: 'stream-update'; stream: number; input: SlotRef; length: number }
  | { id: number; op: 'stream-final'; stream: number }
  | { id: number; op: 'stream-drop'; stream: number };

export type WorkerReply =
  | { id: number; ok: true; op: 'attach' | 'detach' | 'stream-update' | 'stream-drop' }
  | { id: number; ok: true; op: 'seal'; hash: string; sealedLength: number }
  | { id: number; ok: true; op: 'open'; status: 'ok' | 'hash' | 'tag'; plainLength: number }
  | { id: number; ok: true; op: 'hash'; hash: string }
  | { id: number; ok: true; op: 'stream-final'; digest: Uint8Array }
  | { id: number; ok: false; error: { code: ErrorCode; message: string } };
