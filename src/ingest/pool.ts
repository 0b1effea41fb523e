import { Worker } from 'node:worker_threads';
import { createHash } from 'node:crypto';
import { sealChunkInto } from '../formats/chunk.js';
import { CHUNK_SIZE, TAG_LENGTH } from '../crypto/domains.js';
import { GroveError } from '../errors.js';
import type { WorkerReply, WorkerRequest } from './protocol.js';
import { BufferRing, type ChunkBuffers, type Slot } from './buffers.js';

// A small pool of seal-worker threads (default 2: both cores of the reference machine; the
// main thread only does file I/O and bookkeeping). Callers bound how many chunks are in
// flight; the pool spreads jobs to the least-loaded worker. Whole-file hash streams are
// pinned to one worker so their updates apply in order. Buffers are shared rings the pool
// creates and attaches to every worker (protocol.ts).

export interface PoolInit {
  /** Number of worker threads (default 2). */
  workers?: number;
}

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;
type JobRequest = Distribute<WorkerRequest>;
type OkReply = Extract<WorkerReply, { ok: true }>;

interface WorkerSlot {
  worker: Worker;
  load: number;
  pending: Map<number, { resolve: (r: OkReply) => void; reject: (e: Error) => void }>;
}

export interface OpenResult {
  status: 'ok' | 'hash' | 'tag';
  plainLength: number;
}

export class SealPool {
  private readonly workers: WorkerSlot[];
  private nextId = 1;
  private nextStream = 1;
  private nextRing = 1;
  private broken: Error | undefined;
  private closed = false;

  constructor(init: PoolInit = {}) {
    const n = Math.max(1, init.workers ?? 2);
    // Compiled to dist/src/ingest/: the worker is the sibling .js file (tests and the CLI
    // both run compiled code).
    const url = new URL('./seal-worker.js', import.meta.url);
    this.workers = Array.from({ length: n }, () => {
      const w: WorkerSlot = { worker: new Worker(url), load: 0, pending: new Map() };
      w.worker.on('message', (r: WorkerReply) => this.onReply(w, r));
      w.worker.on('error', (e) => this.fail(new GroveError('INTERNAL', `crypto worker failed: ${e.message}`)));
      w.worker.on('exit', (code) => {
        if (!this.closed) this.fail(new GroveError('INTERNAL', `crypto worker exited (code ${code})`));
      });
      return w;
    });
  }

  get size(): number {
    return this.workers.length;
  }

  /** A ring of `count` shared buffers of `bytes` each, usable in jobs on every worker. */
  ring(count: number, bytes: number): BufferRing {
    const ring = new BufferRing(this.nextRing++, Array.from({ length: Math.max(1, count) }, () => new SharedArrayBuffer(bytes)));
    for (const w of this.workers) void this.run(w, { op: 'attach', ring: ring.id, buffers: ring.buffers }).catch(() => {});
    return ring;
  }

  /**
   * Buffers for an add or get: `count` plaintext chunks and `sealedCount` sealed ones.
   * Give them back with `dispose` (a long-running cell restores many files).
   */
  chunkBuffers(count: number, sealedCount = count): ChunkBuffers {
    return { plain: this.ring(count, CHUNK_SIZE), sealed: this.ring(sealedCount, CHUNK_SIZE + TAG_LENGTH), count: Math.max(1, count) };
  }

  /** Detaches rings from the workers so their memory can be freed. */
  dispose(...rings: BufferRing[]): void {
    if (this.broken || this.closed) return;
    for (const r of rings) for (const w of this.workers) void this.run(w, { op: 'detach', ring: r.id }).catch(() => {});
  }

  /** Seals chunk `index` of a file from the first `length` bytes of `input` into `output`. */
  async seal(key: Uint8Array, fileHash: Uint8Array, index: number, input: Slot, length: number, output: Slot): Promise<{ hash: string; sealedLength: number }> {
    const r = await this.run(this.leastLoaded(), { op: 'seal', key, fileHash, index, input: ref(input), length, output: ref(output) });
    if (r.op !== 'seal') throw protocolError();
    return { hash: r.hash, sealedLength: r.sealedLength };
  }

  /**
   * Checks a stored chunk (first `length` bytes of `input`) against its object hash, then
   * opens it into `output`. A hash mismatch or a failed tag is a status, not an error: the
   * caller may fetch a good copy elsewhere.
   */
  async open(key: Uint8Array, fileHash: Uint8Array, index: number, expectHash: string, input: Slot, length: number, output: Slot): Promise<OpenResult> {
    const r = await this.run(this.leastLoaded(), { op: 'open', key, fileHash, index, expectHash, input: ref(input), length, output: ref(output) });
    if (r.op !== 'open') throw protocolError();
    return { status: r.status, plainLength: r.plainLength };
  }

  /** SHA-256 (hex) of the first `length` bytes of a slot. */
  async hash(input: Slot, length: number): Promise<string> {
    const r = await this.run(this.leastLoaded(), { op: 'hash', input: ref(input), length });
    if (r.op !== 'hash') throw protocolError();
    return r.hash;
  }

  /**
   * `hash`, on the calling thread: for inputs so small that the trip to a worker and back
   * costs more than the hashing (see `INLINE_CRYPTO_BYTES` in group.ts).
   */
  hashHere(input: Uint8Array): string {
    return createHash('sha256').update(input).digest('hex');
  }

  /** `seal`, on the calling thread (same bytes, same result): for tiny files. */
  sealHere(key: Uint8Array, fileHash: Uint8Array, index: number, input: Uint8Array, output: Uint8Array): { hash: string; sealedLength: number } {
    const n = sealChunkInto(output, key, fileHash, index, input);
    return { hash: this.hashHere(output.subarray(0, n)), sealedLength: n };
  }

  /** An incremental SHA-256 computed on one worker; updates apply in call order. */
  hashStream(): HashStream {
    const w = this.leastLoaded();
    const stream = this.nextStream++;
    return {
      update: async (input, length) => {
        const r = await this.run(w, { op: 'stream-update', stream, input: ref(input), length });
        if (r.op !== 'stream-update') throw protocolError();
      },
      digest: async () => {
        const r = await this.run(w, { op: 'stream-final', stream });
        if (r.op !== 'stream-final') throw protocolError();
        return Buffer.from(r.digest);
      },
      drop: async () => {
        if (this.broken || this.closed) return;
        await this.run(w, { op: 'stream-drop', stream }).catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new GroveError('INTERNAL', 'crypto pool closed'));
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
  }

  private leastLoaded(): WorkerSlot {
    let best = this.workers[0]!;
    for (const w of this.workers) if (w.load < best.load) best = w;
    return best;
  }

  private run(w: WorkerSlot, job: JobRequest): Promise<OkReply> {
    if (this.broken) return Promise.reject(this.broken);
    const id = this.nextId++;
    return new Promise<OkReply>((resolve, reject) => {
      w.pending.set(id, { resolve, reject });
      w.load++;
      w.worker.postMessage({ ...job, id } as WorkerRequest);
    });
  }

  private onReply(w: WorkerSlot, r: WorkerReply): void {
    const p = w.pending.get(r.id);
    if (!p) return;
    w.pending.delete(r.id);
    w.load--;
    if (r.ok) p.resolve(r);
    else p.reject(new GroveError(r.error.code, r.error.message));
  }

  /** A worker died: every job in flight fails, and so does every later one. */
  private fail(e: Error): void {
    this.broken ??= e;
    for (const w of this.workers) {
      for (const p of w.pending.values()) p.reject(e);
      w.pending.clear();
      w.load = 0;
    }
  }
}

export interface HashStream {
  /** Feeds the first `length` bytes of a slot; the slot may be reused once this resolves. */
  update(input: Slot, length: number): Promise<void>;
  digest(): Promise<Buffer>;
  /** Forgets an unfinished stream (after an error). */
  drop(): Promise<void>;
}

function ref(s: Slot): { ring: number; slot: number } {
  return { ring: s.ring, slot: s.slot };
}

function protocolError(): GroveError {
  return new GroveError('INTERNAL', 'crypto worker sent an unexpected reply');
}
