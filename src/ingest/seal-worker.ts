import { parentPort } from 'node:worker_threads';
import { createHash, type Hash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { sealChunkInto, openChunkInto } from '../formats/chunk.js';
import { GroveError } from '../errors.js';
import type { SlotRef, WorkerRequest, WorkerReply } from './protocol.js';

// The bulk crypto of add/get/verify runs here, off the main thread (MACHINE-NOTES: hashing
// 64 MB on the main thread blocks the event loop ~35 ms). Data lives in shared ring slots
// (see protocol.ts); a job names its input and output slots.

if (!parentPort) throw new Error('seal-worker must run as a worker thread');
const port = parentPort;

// Node's cipher returns a fresh buffer for every update (4 MiB of garbage per chunk), and
// V8 collects external memory only after it has grown by ~64 MB per isolate: measured,
// that is ~40 MB of peak RSS across two workers for nothing. A minor GC after each chunk
// frees it at once (well under a millisecond). `gc` is only reachable this way after
// startup; without it we just use more memory.
//
// Each chunk goes to OpenSSL in one update (PIECE): one 4 MiB output the allocator keeps
// reusing. With 64 KiB pieces the 64 small outputs freed together by that GC made glibc
// trim and re-fault the worker heap every chunk: ~1 s of system time per GiB, measured.
const collect = exposeGc();
/**
 * Bytes sealed or opened between two of those GCs: a 4 MiB chunk still gets one each, but a
 * run of small files does not pay a GC per file (1 000 files of 64 KiB spent ~0.7 s in them).
 */
const COLLECT_BYTES = 4 * 1024 * 1024;
let sinceCollect = 0;
const PIECE = Number.MAX_SAFE_INTEGER;

function exposeGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;
    return typeof gc === 'function' ? () => gc({ type: 'minor' }) : undefined;
  } catch {
    return undefined;
  }
}

const rings = new Map<number, Uint8Array[]>();
/** Incremental whole-file hashes, by stream id. A stream is pinned to one worker, so order holds. */
const streams = new Map<number, Hash>();

function slot(ref: SlotRef, length?: number): Uint8Array {
  const s = rings.get(ref.ring)?.[ref.slot];
  if (!s) throw new GroveError('INTERNAL', `unknown buffer slot ${ref.ring}/${ref.slot}`);
  return length === undefined ? s : s.subarray(0, length);
}

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function handle(req: WorkerRequest): WorkerReply {
  const { id } = req;
  switch (req.op) {
    case 'attach':
      rings.set(req.ring, req.buffers.map((b) => new Uint8Array(b)));
      return { id, ok: true, op: 'attach' };
    case 'detach':
      rings.delete(req.ring);
      return { id, ok: true, op: 'detach' };
    case 'seal': {
      const out = slot(req.output);
      const n = sealChunkInto(out, req.key, req.fileHash, req.index, slot(req.input, req.length), PIECE);
      return { id, ok: true, op: 'seal', hash: sha256Hex(out.subarray(0, n)), sealedLength: n };
    }
    case 'open': {
      const sealed = slot(req.input, req.length);
      if (sha256Hex(sealed) !== req.expectHash) return { id, ok: true, op: 'open', status: 'hash', plainLength: 0 };
      try {
        const n = openChunkInto(slot(req.output), req.key, req.fileHash, req.index, sealed, PIECE);
        return { id, ok: true, op: 'open', status: 'ok', plainLength: n };
      } catch (e) {
        if (e instanceof GroveError && e.code === 'CORRUPT') return { id, ok: true, op: 'open', status: 'tag', plainLength: 0 };
        throw e;
      }
    }
    case 'hash':
      return { id, ok: true, op: 'hash', hash: sha256Hex(slot(req.input, req.length)) };
    case 'stream-update': {
      let h = streams.get(req.stream);
      if (!h) {
        h = createHash('sha256');
        streams.set(req.stream, h);
      }
      h.update(slot(req.input, req.length));
      return { id, ok: true, op: 'stream-update' };
    }
    case 'stream-final': {
      const h = streams.get(req.stream) ?? createHash('sha256');
      streams.delete(req.stream);
      return { id, ok: true, op: 'stream-final', digest: Uint8Array.from(h.digest()) };
    }
    case 'stream-drop':
      streams.delete(req.stream);
      return { id, ok: true, op: 'stream-drop' };
  }
}

port.on('message', (req: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = handle(req);
  } catch (e) {
    const error = e instanceof GroveError
      ? { code: e.code, message: e.message }
      : { code: 'INTERNAL' as const, message: e instanceof Error ? e.message : String(e) };
    reply = { id: req.id, ok: false, error };
  }
  port.postMessage(reply);
  if (req.op === 'seal' || req.op === 'open') {
    sinceCollect += req.length;
    if (sinceCollect >= COLLECT_BYTES) {
      sinceCollect = 0;
      collect?.();
    }
  }
});
