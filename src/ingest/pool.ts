import { Worker } from 'node:worker_threads';
import { GroveError } from '../errors.js';
import type { WorkerReply, WorkerRequest } from './protocol.js';

// A small pool of seal-worker threads (default 2: both cores of the reference machine; the
// main thread only does file I/O and bookkeeping). Callers bound how many chunks are in
// flight; the pool just spreads jobs to the least-loaded worker. Whole-file hash streams are
// pinned to one worker so their updates are applied in order.

export interface PoolInit {
  /** Number of worker threads (default 2). */
  workers?: number;
}

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;
type JobRequest = Distribute<WorkerRequest>;
type OkReply = Extract<WorkerReply, { ok: true }>;

interface Slot {
  worker: Worker;
  load: number;
  pending: Map<number, { resolve: (r: OkReply) => void; reject: (e: Error) => void }>;
}

export interface SealResult {
  hash: string;
  sealedLength: number;
  data: ArrayBuffer;
  out: ArrayBuffer;
}

export interface OpenResult {
  status: 'ok' | 'hash' | 'tag';
  plainLength: number;
  data: ArrayBuffer;
  out: ArrayBuffer;
}

export class SealPool {
  private readonly slots: Slot[];
  private nextId = 1;
  private nextStream = 1;
  private broken: Error | undefined;
  private closed = false;

  constructor(init: PoolInit = {}) {
    const n = Math.max(1, init.workers ?? 2);
    // Compiled to dist/src/ingest/: the worker is the sibling .js file (tests and the CLI
    // both run compiled code).
    const url = new URL('./seal-worker.js', import.meta.url);
    this.slots = Array.from({ length: n }, () => {
      const slot: Slot = { worker: new Worker(url), load: 0, pending: new Map() };
      slot.worker.on('message', (r: WorkerReply) => this.onReply(slot, r));
      slot.worker.on('error', (e) => this.fail(new GroveError('INTERNAL', `crypto worker failed: ${e.message}`)));
      slot.worker.on('exit', (code) => {
        if (!this.closed) this.fail(new GroveError('INTERNAL', `crypto worker exited (code ${code})`));
      });
      return slot;
    });
  }

  get size(): number {
    return this.slots.length;
  }

  /**
   * Seals chunk `index` of a file: the first `length` bytes of `data` into `out` (at least
   * length + 16 bytes). Both buffers are transferred and handed back.
   */
  async seal(key: Uint8Array, fileHash: Uint8Array, index: number, data: ArrayBuffer, length: number, out: ArrayBuffer): Promise<SealResult> {
    const r = await this.run(this.leastLoaded(), { op: 'seal', key, fileHash, index, data, length, out }, [data, out]);
    if (r.op !== 'seal') throw protocolError();
    return { hash: r.hash, sealedLength: r.sealedLength, data: r.data, out: r.out };
  }

  /**
   * Checks a stored chunk (first `length` bytes of `data`) against its object hash, then
   * opens it into `out`. A hash mismatch or a failed tag is a status, not an error: the
   * caller may fetch a good copy elsewhere. Both buffers are handed back.
   */
  async open(key: Uint8Array, fileHash: Uint8Array, index: number, expectHash: string, data: ArrayBuffer, length: number, out: ArrayBuffer): Promise<OpenResult> {
    const r = await this.run(this.leastLoaded(), { op: 'open', key, fileHash, index, expectHash, data, length, out }, [data, out]);
    if (r.op !== 'open') throw protocolError();
    return { status: r.status, plainLength: r.plainLength, data: r.data, out: r.out };
  }

  /** SHA-256 (hex) of the first `length` bytes of `data`, which is handed back. */
  async hash(data: ArrayBuffer, length: number): Promise<{ hash: string; data: ArrayBuffer }> {
    const r = await this.run(this.leastLoaded(), { op: 'hash', data, length }, [data]);
    if (r.op !== 'hash') throw protocolError();
    return { hash: r.hash, data: r.data };
  }

  /** An incremental SHA-256 computed on one worker; updates apply in call order. */
  hashStream(): HashStream {
    const slot = this.leastLoaded();
    const stream = this.nextStream++;
    return {
      update: async (data, length) => {
        const r = await this.run(slot, { op: 'stream-update', stream, data, length }, [data]);
        if (r.op !== 'stream-update') throw protocolError();
        return r.data;
      },
      digest: async () => {
        const r = await this.run(slot, { op: 'stream-final', stream }, []);
        if (r.op !== 'stream-final') throw protocolError();
        return Buffer.from(r.digest);
      },
      drop: async () => {
        if (this.broken || this.closed) return;
        await this.run(slot, { op: 'stream-drop', stream }, []).catch(() => {});
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new GroveError('INTERNAL', 'crypto pool closed'));
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private leastLoaded(): Slot {
    let best = this.slots[0]!;
    for (const s of this.slots) if (s.load < best.load) best = s;
    return best;
  }

  private run(slot: Slot, job: JobRequest, transfer: ArrayBuffer[]): Promise<OkReply> {
    if (this.broken) return Promise.reject(this.broken);
    const id = this.nextId++;
    return new Promise<OkReply>((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.load++;
      slot.worker.postMessage({ ...job, id } as WorkerRequest, transfer);
    });
  }

  private onReply(slot: Slot, r: WorkerReply): void {
    const p = slot.pending.get(r.id);
    if (!p) return;
    slot.pending.delete(r.id);
    slot.load--;
    if (r.ok) p.resolve(r);
    else p.reject(new GroveError(r.error.code, r.error.message));
  }

  /** A worker died: every job in flight fails, and so does every later one. */
  private fail(e: Error): void {
    this.broken ??= e;
    for (const s of this.slots) {
      for (const p of s.pending.values()) p.reject(e);
      s.pending.clear();
      s.load = 0;
    }
  }
}

export interface HashStream {
  /** Feeds the first `length` bytes of `data` (transferred); resolves with the buffer handed back. */
  update(data: ArrayBuffer, length: number): Promise<ArrayBuffer>;
  digest(): Promise<Buffer>;
  /** Forgets an unfinished stream (after an error). */
  drop(): Promise<void>;
}

function protocolError(): GroveError {
  return new GroveError('INTERNAL', 'crypto worker sent an unexpected reply');
}
