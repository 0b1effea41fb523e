import { createHash } from 'node:crypto';
import { objectCommitted } from './fault.js';
import { open, readFile, mkdir, rename, unlink, readdir, stat, type FileHandle } from 'node:fs/promises';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { isHash } from '../crypto/encoding.js';
import { badInput, corrupt, notFound, tooLarge, GroveError } from '../errors.js';
import { TMP_PREFIX, fsyncDir } from '../home/atomic.js';
import { asDiskFull, diskFull } from '../guard/disk.js';
import { randomBytes } from 'node:crypto';

// Content-addressed objects on disk (docs/design.md §1, §2): chunks/{hash[:2]}/{hash}, where
// hash = SHA-256 of the stored bytes. Every write is atomic; every read is verified.
// Largest object we ever accept: a 4 MiB chunk plus its tag, or a manifest/index.
export const MAX_OBJECT_BYTES = 4 * 1024 * 1024 + 16 + 64 * 1024;

/** An object written to a temp file, not yet durable or visible under its hash. */
export interface StagedObject {
  hash: string;
  /** fsync (unless `sync: false`), rename into place, fsync the directory (unless `syncDir: false`). */
  commit(opts?: { sync?: boolean; syncDir?: boolean }): Promise<void>;
  /** Removes the temp file. */
  abort(): Promise<void>;
}

export interface PutOptions {
  /** fsync the object (default true). */
  sync?: boolean;
  /** also fsync its directory (default true; false when the caller batches `syncDirs`). */
  syncDir?: boolean;
  /** atomically replace an existing object (healing a corrupt copy). */
  replace?: boolean;
}

export class ObjectStore {
  /** Shard directories made (or found) by this process: they are never removed while it runs. */
  private readonly shards = new Set<string>();

  constructor(readonly dir: string) {}

  /**
   * The object's shard directory, made if needed (once per shard per process; `again` after
   * an ENOENT in it: someone removed it behind our back).
   */
  async shardDir(hash: string, again = false): Promise<string> {
    const dir = join(this.dir, hash.slice(0, 2));
    if (again || !this.shards.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.shards.add(dir);
    }
    return dir;
  }

  /**
   * A new temp file beside where object `hash` goes, in its shard directory (made once per
   * store, and again if it went away meanwhile).
   */
  private async openTemp(hash: string): Promise<{ dir: string; tmp: string; fh: FileHandle }> {
    const name = `${TMP_PREFIX}${hash}.${randomBytes(6).toString('hex')}`;
    let dir = await this.shardDir(hash);
    try {
      return { dir, tmp: join(dir, name), fh: await open(join(dir, name), 'wx', 0o644) };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw asDiskFull(e);
    }
    dir = await this.shardDir(hash, true);
    const fh = await open(join(dir, name), 'wx', 0o644).catch((e: unknown) => { throw asDiskFull(e); });
    return { dir, tmp: join(dir, name), fh };
  }

  /** Path of an object. Only a valid 64-hex hash ever reaches the filesystem. */
  pathOf(hash: string): string {
    if (!isHash(hash)) throw badInput('invalid object hash');
    return join(this.dir, hash.slice(0, 2), hash);
  }

  has(hash: string): boolean {
    return existsSync(this.pathOf(hash));
  }

  /** Stores bytes under their SHA-256. Returns the hash and whether a new file was written. */
  async put(data: Uint8Array, opts: PutOptions = {}): Promise<{ hash: string; written: boolean }> {
    const hash = createHash('sha256').update(data).digest('hex');
    return { hash, written: await this.putHashed(hash, data, opts) };
  }

  /**
   * Stores bytes whose SHA-256 the caller has already computed (the ingest pipeline hashes
   * in worker threads; hashing again here would cost the main thread ~2 ms per 4 MiB).
   * The caller guarantees `hash` = SHA-256(data). Returns whether a new file was written.
   * `syncDir: false` leaves the directory entry to a later `syncDirs()` (one fsync per shard
   * for a whole batch); `replace: true` overwrites an existing (corrupt) object atomically.
   */
  async putHashed(hash: string, data: Uint8Array, opts: PutOptions = {}): Promise<boolean> {
    const staged = await this.stage(hash, data, opts);
    if (!staged) return false;
    await staged.commit(opts);
    return true;
  }

  /**
   * First half of a put: writes `data` to a temp file beside the object and returns a
   * handle whose `commit()` makes it durable (fsync) and renames it into place. The caller
   * may reuse `data` as soon as this resolves, and may commit later: the ingest pipeline
   * keeps sealing chunks while earlier ones are being flushed to disk. Returns undefined
   * when the object already exists (unless `replace`).
   */
  async stage(hash: string, data: Uint8Array, opts: { replace?: boolean } = {}): Promise<StagedObject | undefined> {
    const path = this.pathOf(hash);
    if (!opts.replace && existsSync(path)) return undefined;
    const { dir, tmp, fh } = await this.openTemp(hash);
    const discard = async () => {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
    };
    try {
      // One pwrite for the whole object: FileHandle.writeFile would split it into 512 KiB
      // writes, each a round trip through libuv's thread pool.
      for (let off = 0; off < data.length;) {
        const n = (await fh.write(data, off, data.length - off, off)).bytesWritten;
        if (n <= 0) throw diskFull('no space left on the disk'); // a full disk: never loop on 0
        off += n;
      }
    } catch (e) {
      await discard();
      throw asDiskFull(e);
    }
    return {
      hash,
      commit: async (o: { sync?: boolean; syncDir?: boolean } = {}) => {
        try {
          if (o.sync !== false) await fh.sync();
        } catch (e) {
          await discard();
          throw e;
        }
        await fh.close();
        await rename(tmp, path);
        if (o.sync !== false && o.syncDir !== false) await fsyncDir(dir);
        objectCommitted();
      },
      abort: discard,
    };
  }

  /** Makes the directory entries of these objects durable (after `putHashed(..., { syncDir: false })`). */
  async syncDirs(hashes: Iterable<string>): Promise<void> {
    const shards = new Set<string>();
    for (const h of hashes) shards.add(h.slice(0, 2));
    await Promise.all([...shards].map((s) => fsyncDir(join(this.dir, s))));
  }

  /**
   * Stores a stream that must hash to `expected` (peer uploads). Bytes go to a temp file
   * while hashing; only a matching, complete object is renamed into place. Over `maxBytes`
   * is TOO_LARGE, a mismatch is BAD_INPUT; either way nothing is stored.
   */
  async putStream(expected: string, body: Readable, maxBytes = MAX_OBJECT_BYTES): Promise<{ size: number; written: boolean }> {
    const path = this.pathOf(expected);
    const { dir, tmp, fh } = await this.openTemp(expected);
    const h = createHash('sha256');
    // Objects are small (≤ maxBytes, ~4 MiB): collect the pieces and write them in one call
    // once the hash matched, instead of one awaited write per 64 KiB piece.
    const pieces: Buffer[] = [];
    let size = 0;
    let ok = false;
    try {
      for await (const piece of body) {
        const buf = piece as Buffer;
        size += buf.length;
        if (size > maxBytes) throw tooLarge('object too large');
        h.update(buf);
        pieces.push(buf);
      }
      if (h.digest('hex') !== expected) throw badInput('object does not match its hash');
      // A full disk may end a write short without an error: check every byte landed, and that
      // the file holds exactly them, before the object may become visible under its hash.
      await writeSynced(fh, pieces, size);
      if ((await fh.stat()).size !== size) throw diskFull();
      ok = true;
    } catch (e) {
      throw asDiskFull(e);
    } finally {
      await fh.close().catch(() => {});
      if (!ok) await unlink(tmp).catch(() => {});
    }
    if (existsSync(path)) {
      await unlink(tmp).catch(() => {});
      return { size, written: false };
    }
    try {
      await rename(tmp, path);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw asDiskFull(e);
    }
    await fsyncDir(dir);
    return { size, written: true };
  }

  /**
   * Reads a whole object without checking it: only for sending it to a peer, which checks
   * the hash before storing anything (a corrupt copy is refused there, never spread).
   * Missing → NOT_FOUND.
   */
  async readUnverified(hash: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(hash));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`object ${hash} is missing`, { hash });
      throw e;
    }
  }

  /**
   * Reads an object (unverified) into `buf` and returns its length, or undefined when it is
   * larger than `buf` (the caller reads it otherwise). For senders that reuse their buffers.
   */
  async readInto(hash: string, buf: Buffer): Promise<number | undefined> {
    let fh: FileHandle;
    try {
      fh = await open(this.pathOf(hash), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`object ${hash} is missing`, { hash });
      throw e;
    }
    try {
      const size = (await fh.stat()).size;
      if (size > buf.length) return undefined;
      let off = 0;
      while (off < size) {
        const { bytesRead } = await fh.read(buf, off, size - off, off);
        if (bytesRead === 0) break; // shrank meanwhile: what is there is sent, and the holder's hash check refuses it
        off += bytesRead;
      }
      return off;
    } finally {
      await fh.close().catch(() => {});
    }
  }

  /**
   * Reads objects in order (unverified, like `readUnverified`), with up to `depth` reads in
   * flight so file latency overlaps while memory stays at `depth` objects. A missing object
   * comes back with its error instead of its bytes.
   */
  async *readEach<T extends { hash: string }>(items: readonly T[], depth = 8, signal?: AbortSignal): AsyncGenerator<{ item: T; data?: Buffer; error?: unknown }> {
    const read = (item: T) => this.readUnverified(item.hash).then((data) => ({ item, data }), (error: unknown) => ({ item, error }));
    const queue = items.slice(0, depth).map(read);
    for (let i = 0; i < items.length; i++) {
      signal?.throwIfAborted();
      const next = await queue.shift()!;
      if (i + depth < items.length) queue.push(read(items[i + depth]!));
      yield next;
    }
  }

  /** Reads a whole object and checks its hash. Missing → NOT_FOUND, mismatch → CORRUPT. */
  async get(hash: string): Promise<Buffer> {
    const path = this.pathOf(hash);
    let data: Buffer;
    try {
      data = await readFile(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`object ${hash} is missing`, { hash });
      throw e;
    }
    if (createHash('sha256').update(data).digest('hex') !== hash) {
      throw corrupt(`object ${hash} is corrupt (hash mismatch)`, { hash });
    }
    return data;
  }

  /** A raw read stream (callers that serve objects verify as they go or trust the receiver to). */
  createReadStream(hash: string): Readable {
    return createReadStream(this.pathOf(hash));
  }

  async size(hash: string): Promise<number | undefined> {
    try {
      return (await stat(this.pathOf(hash))).size;
    } catch {
      return undefined;
    }
  }

  /** Re-hashes one object on disk: 'ok' | 'corrupt' | 'missing'. */
  async check(hash: string): Promise<'ok' | 'corrupt' | 'missing'> {
    try {
      await this.get(hash);
      return 'ok';
    } catch (e) {
      if (e instanceof GroveError && e.code === 'NOT_FOUND') return 'missing';
      if (e instanceof GroveError && e.code === 'CORRUPT') return 'corrupt';
      throw e;
    }
  }

  async remove(hash: string): Promise<void> {
    await unlink(this.pathOf(hash)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  /** Every object file name on disk (valid hashes only), and leftover temp files removed. */
  async *list(): AsyncGenerator<string> {
    let shards: string[];
    try {
      shards = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const shard of shards.sort()) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const name of (await readdir(join(this.dir, shard))).sort()) {
        if (isHash(name) && name.startsWith(shard)) yield name;
      }
    }
  }

  /**
   * Removes temp files left by a crash mid-write. `olderThanMs` (with `now`) keeps the temp
   * files of writes that may still be under way in another process (a running `grove add`).
   */
  async sweepTemp(opts: { olderThanMs?: number; now?: number } = {}): Promise<number> {
    const cutoff = opts.olderThanMs === undefined ? Infinity : (opts.now ?? Date.now()) - opts.olderThanMs;
    let n = 0;
    let shards: string[];
    try {
      shards = await readdir(this.dir);
    } catch {
      return 0;
    }
    for (const shard of shards) {
      let names: string[];
      try { names = await readdir(join(this.dir, shard)); } catch { continue; }
      for (const name of names) {
        if (!name.startsWith(TMP_PREFIX)) continue;
        const p = join(this.dir, shard, name);
        if (cutoff !== Infinity) {
          const st = await stat(p).catch(() => undefined);
          if (!st || st.mtimeMs > cutoff) continue;
        }
        await unlink(p).catch(() => {});
        n++;
      }
    }
    return n;
  }
}

/**
 * Writes `pieces` (`size` bytes in all) at the start of a new file in one call and fsyncs it.
 * A full disk may end a write short without an error: that is a full disk too.
 */
export async function writeSynced(fh: FileHandle, pieces: readonly Buffer[], size: number): Promise<void> {
  const { bytesWritten } = await fh.writev(pieces as Buffer[], 0);
  if (bytesWritten !== size) throw diskFull();
  await fh.sync();
}
