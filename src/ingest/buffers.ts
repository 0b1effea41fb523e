import type { SlotRef } from './protocol.js';

// Fixed sets of equal-size shared buffers that circulate between the reader, the workers
// and the writer. Acquiring waits while all are in use, which is what bounds memory: at
// most `count` buffers exist per ring, whatever the file size. Rings are made by the
// SealPool (which attaches them to its workers) and given back with `SealPool.dispose`.

export interface Slot extends SlotRef {
  /** The whole slot; callers use a prefix of it. */
  bytes: Uint8Array;
}

export class BufferRing {
  readonly slots: readonly Slot[];
  private readonly free: Slot[];
  private readonly waiters: ((s: Slot) => void)[] = [];

  constructor(readonly id: number, readonly buffers: SharedArrayBuffer[]) {
    this.slots = buffers.map((b, slot) => ({ ring: id, slot, bytes: new Uint8Array(b) }));
    this.free = [...this.slots].reverse();
  }

  get count(): number {
    return this.slots.length;
  }

  /** Size of each buffer. */
  get bytes(): number {
    return this.slots[0]?.bytes.length ?? 0;
  }

  acquire(): Promise<Slot> {
    const s = this.free.pop();
    if (s) return Promise.resolve(s);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(s: Slot): void {
    const w = this.waiters.shift();
    if (w) w(s);
    else this.free.push(s);
  }
}

/**
 * The buffers one add or get cycles through: `count` plaintext buffers (4 MiB) and
 * `sealed.count` sealed ones (4 MiB + tag). Share one set across the files of a command:
 * nothing chunk-sized is allocated per chunk or per file, so memory stays flat.
 */
export interface ChunkBuffers {
  plain: BufferRing;
  sealed: BufferRing;
  count: number;
}

/** Counts running tasks and lets a producer wait for room or for all of them. */
export class TaskWindow {
  private readonly running = new Set<Promise<void>>();
  private firstError: unknown;
  private failed = false;

  constructor(readonly limit: number) {}

  /** The first error of any task (tasks started after it are not awaited by the producer). */
  get error(): unknown {
    return this.firstError;
  }

  get hasFailed(): boolean {
    return this.failed;
  }

  /** Waits until fewer than `limit` tasks run. */
  async room(): Promise<void> {
    while (this.running.size >= this.limit) await Promise.race(this.running);
  }

  start(task: () => Promise<void>): void {
    const p: Promise<void> = task().catch((e) => {
      if (!this.failed) {
        this.failed = true;
        this.firstError = e;
      }
    }).finally(() => this.running.delete(p));
    this.running.add(p);
  }

  /** Waits for every task; throws the first error, if any. */
  async drain(): Promise<void> {
    while (this.running.size) await Promise.race(this.running);
    if (this.failed) throw this.firstError;
  }
}

/** Runs at most `limit` functions at once; the others wait their turn in order. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}
