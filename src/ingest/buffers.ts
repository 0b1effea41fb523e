// A fixed set of equal-size ArrayBuffers that circulate between the reader, the workers
// and back. Acquiring waits while all are in use, which is what bounds memory: at most
// `count` buffers (plus their sealed/opened twins) exist, whatever the file size.

export class BufferRing {
  private readonly free: ArrayBuffer[] = [];
  private readonly waiters: ((b: ArrayBuffer) => void)[] = [];

  constructor(readonly count: number, readonly bytes: number) {
    for (let i = 0; i < count; i++) this.free.push(new ArrayBuffer(bytes));
  }

  acquire(): Promise<ArrayBuffer> {
    const b = this.free.pop();
    if (b) return Promise.resolve(b);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Returns a buffer. A buffer lost to a failed job is replaced (`release()` with no
   * argument), so waiters never hang.
   */
  release(b?: ArrayBuffer): void {
    const buf = b && b.byteLength === this.bytes ? b : new ArrayBuffer(this.bytes);
    const w = this.waiters.shift();
    if (w) w(buf);
    else this.free.push(buf);
  }
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

/**
 * The buffers one add or get cycles through: `count` plaintext buffers (4 MiB) and `count`
 * sealed ones (4 MiB + tag). Share one set across the files of a command: nothing
 * chunk-sized is allocated per chunk or per file, so memory stays flat.
 */
export class ChunkBuffers {
  readonly plain: BufferRing;
  readonly sealed: BufferRing;

  constructor(readonly count: number, chunkSize: number, tagLength: number) {
    this.plain = new BufferRing(count, chunkSize);
    this.sealed = new BufferRing(count, chunkSize + tagLength);
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
