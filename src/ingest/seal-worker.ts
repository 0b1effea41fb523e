import { parentPort } from 'node:worker_threads';
import { createHash, type Hash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { sealChunkInto, openChunkInto } from '../formats/chunk.js';
import { GroveError } from '../errors.js';
import type { WorkerRequest, WorkerReply } from './protocol.js';

// The bulk crypto of add/get/verify runs here, off the main thread (MACHINE-NOTES: hashing
// 64 MB on the main thread blocks the event loop ~35 ms). Every buffer arrives transferred
// and goes back transferred, so the main thread reuses it and nothing is copied.

if (!parentPort) throw new Error('seal-worker must run as a worker thread');
const port = parentPort;

// Node's cipher returns a fresh buffer for every update (4 MiB of garbage per chunk), and
// V8 collects external memory only after it has grown by ~64 MB per isolate: measured,
// that is ~40 MB of peak RSS across two workers for nothing. A minor GC after each chunk
// frees it at once (well under a millisecond). `gc` is only reachable this way after
// startup; without it we just use more memory.
const collect = exposeGc();

function exposeGc(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;
    return typeof gc === 'function' ? () => gc({ type: 'minor' }) : undefined;
  } catch {
    return undefined;
  }
}

/** Incremental whole-file hashes, by stream id. A stream is pinned to one worker, so order holds. */
const streams = new Map<number, Hash>();

function view(ab: ArrayBuffer, length: number): Buffer {
  return Buffer.from(ab, 0, length);
}

function sha256Hex(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

function handle(req: WorkerRequest): { reply: WorkerReply; transfer: ArrayBuffer[] } {
  switch (req.op) {
    case 'seal': {
      const n = sealChunkInto(new Uint8Array(req.out), req.key, req.fileHash, req.index, view(req.data, req.length));
      const hash = sha256Hex(view(req.out, n));
      return {
        reply: { id: req.id, ok: true, op: 'seal', hash, sealedLength: n, data: req.data, out: req.out },
        transfer: [req.data, req.out],
      };
    }
    case 'open': {
      const sealed = view(req.data, req.length);
      const back = { id: req.id, ok: true as const, op: 'open' as const, data: req.data, out: req.out };
      const transfer = [req.data, req.out];
      if (sha256Hex(sealed) !== req.expectHash) return { reply: { ...back, status: 'hash', plainLength: 0 }, transfer };
      try {
        const n = openChunkInto(new Uint8Array(req.out), req.key, req.fileHash, req.index, sealed);
        return { reply: { ...back, status: 'ok', plainLength: n }, transfer };
      } catch (e) {
        if (e instanceof GroveError && e.code === 'CORRUPT') return { reply: { ...back, status: 'tag', plainLength: 0 }, transfer };
        throw e;
      }
    }
    case 'hash': {
      const hash = sha256Hex(view(req.data, req.length));
      return { reply: { id: req.id, ok: true, op: 'hash', hash, data: req.data }, transfer: [req.data] };
    }
    case 'stream-update': {
      let h = streams.get(req.stream);
      if (!h) {
        h = createHash('sha256');
        streams.set(req.stream, h);
      }
      h.update(view(req.data, req.length));
      return { reply: { id: req.id, ok: true, op: 'stream-update', data: req.data }, transfer: [req.data] };
    }
    case 'stream-final': {
      const h = streams.get(req.stream) ?? createHash('sha256');
      streams.delete(req.stream);
      return { reply: { id: req.id, ok: true, op: 'stream-final', digest: Uint8Array.from(h.digest()) }, transfer: [] };
    }
    case 'stream-drop': {
      streams.delete(req.stream);
      return { reply: { id: req.id, ok: true, op: 'stream-drop' }, transfer: [] };
    }
  }
}

port.on('message', (req: WorkerRequest) => {
  let out: { reply: WorkerReply; transfer: ArrayBuffer[] };
  try {
    out = handle(req);
  } catch (e) {
    const error = e instanceof GroveError
      ? { code: e.code, message: e.message }
      : { code: 'INTERNAL' as const, message: e instanceof Error ? e.message : String(e) };
    out = { reply: { id: req.id, ok: false, error }, transfer: [] };
  }
  port.postMessage(out.reply, out.transfer);
  if (req.op === 'seal' || req.op === 'open') collect?.();
});
