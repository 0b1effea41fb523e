import { open, rename, unlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TMP_PREFIX, fsyncDir } from '../home/atomic.js';
import { asDiskFull } from '../guard/disk.js';
import { GroveError } from '../errors.js';
import { objectCommitted } from './fault.js';
import { writeSynced, type ObjectStore } from './objects.js';

// Many objects made durable together (a peer's batch upload, docs/protocol.md "Batch
// uploads"). Each object, already hash-checked, is written to a temp file beside its final
// place as it arrives, and its fsync is started at once in the background, at most
// `concurrency` at a time (fsyncs issued together let the filesystem share journal commits).
// `commit()` is the one barrier: every fsync done, then every rename, then one fsync per
// touched shard directory, again together. Only then is an object durable under its hash;
// one that failed anywhere is reported alone, never half there.

/** Objects being written and synced at once (libuv's thread pool runs at most its size of them anyway). */
export const BATCH_SYNC_CONCURRENCY = 16;
/**
 * Bytes of one batch waiting to be written: what a batch upload may hold in memory at once (a
 * holder takes up to 8 batches from a peer at a time). 2 MiB kept a receiving cell's peak RSS at
 * 129-140 MB against 131-148 MB with 4, at the same round time (bench:sync --mode small).
 */
export const MAX_PENDING_BYTES = 2 * 1024 * 1024;

interface Staged {
  hash: string;
  tmp: string;
  dir: string;
  size: number;
  /** Resolves with the error that made this object fail, or undefined once it is synced. */
  synced: Promise<unknown>;
}

/** Per object of a commit: in place (`written` false when the bytes were already there), or why not. */
export type CommitResult = { ok: true; written: boolean } | { ok: false; error: GroveError };

export class StagedBatch {
  private readonly staged = new Map<string, Staged>();
  private readonly limit: <T>(fn: () => Promise<T>) => Promise<T>;
  private readonly published: string[] = [];
  private readonly waiters: (() => void)[] = [];
  private pendingBytes = 0;
  private done = false;

  constructor(private readonly store: ObjectStore, concurrency = BATCH_SYNC_CONCURRENCY) {
    this.limit = limiter(concurrency);
  }

  /**
   * Takes one object whose bytes hash to `hash` (the caller checked): it is written to a temp
   * file, every byte checked to have landed, and synced, in the background, at most
   * `concurrency` objects at a time. Resolves once the bytes are handed over; waits first
   * while more than MAX_PENDING_BYTES are queued, so memory stays bounded. Failures (a full
   * disk) are reported per object by `commit()`, and leave nothing behind.
   */
  async write(hash: string, pieces: readonly Buffer[], size: number): Promise<void> {
    if (this.done) throw new GroveError('INTERNAL', 'batch already committed');
    if (this.staged.has(hash)) return;
    this.store.pathOf(hash); // only a valid hash reaches the filesystem
    while (this.pendingBytes > 0 && this.pendingBytes + size > MAX_PENDING_BYTES) await this.drained();
    const dir = join(this.store.dir, hash.slice(0, 2));
    const tmp = join(dir, `${TMP_PREFIX}${hash}.${randomBytes(6).toString('hex')}`);
    this.pendingBytes += size;
    const synced = this.limit(async () => {
      try {
        await this.store.shardDir(hash);
        await writeTemp(tmp, pieces, size).catch(async (e: unknown) => {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
          await this.store.shardDir(hash, true);
          await writeTemp(tmp, pieces, size);
        });
      } finally {
        this.pendingBytes -= size;
        this.wake();
      }
    }).then(() => undefined, (e: unknown) => e);
    this.staged.set(hash, { hash, tmp, dir, size, synced });
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * The barrier: waits for every object's fsync, renames each synced one into place (an object
   * already there keeps its file and this temp file goes), then fsyncs every shard directory a
   * rename touched. Returns, per staged hash, whether it is now durable in place. An object
   * whose fsync or directory fsync failed is removed again (if this batch put it there).
   */
  async commit(): Promise<Map<string, CommitResult>> {
    this.done = true;
    const out = new Map<string, CommitResult>();
    const failed = (s: Staged, e: unknown) => out.set(s.hash, { ok: false, error: asGrove(e) });
    const all = [...this.staged.values()];
    const errors = await Promise.all(all.map((s) => s.synced));
    const renamed: Staged[] = [];
    await Promise.all(all.map((s, i) => this.limit(async () => {
      if (errors[i] !== undefined) {
        await unlink(s.tmp).catch(() => {});
        failed(s, errors[i]);
        return;
      }
      const path = this.store.pathOf(s.hash);
      if (existsSync(path)) {
        await unlink(s.tmp).catch(() => {});
        out.set(s.hash, { ok: true, written: false });
        return;
      }
      try {
        await rename(s.tmp, path);
      } catch (e) {
        await unlink(s.tmp).catch(() => {});
        failed(s, e);
        return;
      }
      renamed.push(s);
    })));
    const dirs = [...new Set(renamed.map((s) => s.dir))];
    const dirErrors = new Map<string, unknown>();
    await Promise.all(dirs.map((d) => this.limit(() => fsyncDir(d).catch((e: unknown) => { dirErrors.set(d, e); }))));
    for (const s of renamed) {
      const e = dirErrors.get(s.dir);
      if (e !== undefined) {
        // Its name may not survive a crash: it is not durable, so it must not be confirmed.
        await this.store.remove(s.hash).catch(() => {});
        failed(s, e);
        continue;
      }
      this.published.push(s.hash);
      out.set(s.hash, { ok: true, written: true });
      objectCommitted();
    }
    return out;
  }

  /** Removes every temp file not yet committed (a refused or broken request). */
  async abort(): Promise<void> {
    this.done = true;
    const all = [...this.staged.values()];
    this.staged.clear();
    await Promise.all(all.map(async (s) => {
      await s.synced;
      await unlink(s.tmp).catch(() => {});
    }));
  }

  /** Removes objects this batch put in place (recording them failed: never kept unrecorded). */
  async unpublish(hashes: Iterable<string>): Promise<void> {
    const mine = new Set(this.published);
    await Promise.all([...hashes].filter((h) => mine.has(h)).map((h) => this.store.remove(h).catch(() => {})));
  }
}

/**
 * Writes a new temp file, checks that every byte landed (a full disk may end a write short
 * without an error) and syncs it; on any failure the file is removed again.
 */
async function writeTemp(tmp: string, pieces: readonly Buffer[], size: number): Promise<void> {
  const fh = await open(tmp, 'wx', 0o644).catch((e: unknown) => { throw asDiskFull(e); });
  let ok = false;
  try {
    await writeSynced(fh, pieces, size);
    ok = true;
  } catch (e) {
    throw asDiskFull(e);
  } finally {
    await fh.close().catch(() => {});
    if (!ok) await unlink(tmp).catch(() => {});
  }
}

function asGrove(e: unknown): GroveError {
  const g = asDiskFull(e);
  return g instanceof GroveError ? g : new GroveError('INTERNAL', 'could not store the object');
}

/** Runs at most `n` of the given tasks at once, in the order they were handed in. */
function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    if (active >= n) return;
    const run = queue.shift();
    if (run) run();
  };
  return <T>(fn: () => Promise<T>) => new Promise<T>((resolve, reject) => {
    queue.push(() => {
      active++;
      fn().then(resolve, reject).finally(() => {
        active--;
        next();
      });
    });
    next();
  });
}
