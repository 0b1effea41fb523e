import { open, rename, unlink, stat, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { openManifest, type ChunkInfo, type FileManifest } from '../formats/manifest.js';
import { recordObject, type ObjectKind } from '../store/catalog.js';
import { tempPathFor, fsyncDir } from '../home/atomic.js';
import type { Home } from '../home/home.js';
import { GroveError, corrupt, notFound } from '../errors.js';
import { SealPool } from './pool.js';
import type { ChunkBuffers, Slot } from './buffers.js';
import { readFully } from './read.js';

// `grove get`: rebuild a file from its manifest (docs/design.md §2). Every object is checked against
// its hash and every chunk against its tag, in workers, while the main thread reads objects
// and writes the output in order; the SHA-256 of the result must equal file_hash. Output
// goes to a temp file beside the target, renamed into place only when all of that holds, so
// a failed restore leaves nothing behind. A missing or corrupt local object is asked of
// `fetchObject` (peers); what it returns is hash-checked and stored locally.

export type FetchObject = (hash: string) => Promise<Buffer | undefined>;

export interface LoadOptions {
  fetchObject?: FetchObject;
  now?: () => number;
}

export interface RestoreOptions extends LoadOptions {
  /** Workers to use; without it a pool is started for this restore and closed after. */
  pool?: SealPool;
  /** Replace an existing output file. */
  force?: boolean;
  signal?: AbortSignal;
  /** Plaintext bytes written so far, as they happen. */
  onProgress?: (bytes: number) => void;
  /** Chunks in flight (default 3). */
  inflight?: number;
}

export interface RestoreResult {
  out: string;
  manifest: FileManifest;
  /** Objects that were missing or corrupt locally and were replaced through fetchObject. */
  healed: string[];
}

/**
 * Loads and opens a manifest object with a file key: the key comes from the master key and
 * file_hash for our own files, or from a grant for a shared one.
 */
export async function loadManifest(home: Home, manifestHash: string, fileKey: Uint8Array, opts: LoadOptions = {}): Promise<FileManifest> {
  const healed: string[] = [];
  const bytes = await readObject(home, manifestHash, 'manifest', opts, healed);
  let m: FileManifest;
  try {
    m = openManifest(fileKey, bytes);
  } catch (e) {
    if (e instanceof GroveError && e.code === 'CORRUPT') {
      throw corrupt(`manifest ${manifestHash} cannot be opened (wrong key, or tampered: ${e.message})`, { hash: manifestHash });
    }
    throw e;
  }
  // A healed manifest is recorded under its owner, known only once it is open.
  for (const h of healed) recordObject(home.db, { hash: h, size: bytes.length, kind: 'manifest', owner: m.owner }, (opts.now ?? Date.now)());
  return m;
}

/** Reads one whole object, verified; falls back to fetchObject when missing or corrupt. */
async function readObject(home: Home, hash: string, kind: ObjectKind, opts: LoadOptions, healed: string[], owner?: string): Promise<Buffer> {
  try {
    return await home.objects.get(hash);
  } catch (e) {
    if (!(e instanceof GroveError) || (e.code !== 'NOT_FOUND' && e.code !== 'CORRUPT')) throw e;
    const fetched = await fetchVerified(home, hash, kind, opts, owner);
    if (!fetched) throw e;
    healed.push(hash);
    return fetched;
  }
}

/** Asks fetchObject for an object; stores it (replacing a bad copy) only if it hashes right. */
async function fetchVerified(home: Home, hash: string, kind: ObjectKind, opts: LoadOptions, owner?: string): Promise<Buffer | undefined> {
  if (!opts.fetchObject) return undefined;
  const bytes = await opts.fetchObject(hash);
  if (!bytes || createHash('sha256').update(bytes).digest('hex') !== hash) return undefined;
  await home.objects.putHashed(hash, bytes, { replace: true });
  if (owner) recordObject(home.db, { hash, size: bytes.length, kind, owner }, (opts.now ?? Date.now)());
  return bytes;
}

export async function restoreFile(home: Home, manifestHash: string, fileKey: Uint8Array, out: string, opts: RestoreOptions = {}): Promise<RestoreResult> {
  out = resolve(out);
  const manifest = await loadManifest(home, manifestHash, fileKey, opts);
  if (!opts.force && (await exists(out))) {
    throw new GroveError('CONFLICT', `${out} already exists (use --force to overwrite)`);
  }
  const pool = opts.pool ?? new SealPool();
  const tmp = tempPathFor(out);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx', 0o666);
    const healed = await writeChunks(home, pool, manifest, fileKey, fh, opts);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, out);
    await fsyncDir(dirname(out));
    return { out, manifest, healed };
  } catch (e) {
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  } finally {
    if (!opts.pool) await pool.close();
  }
}

/** Start flushing the output to disk every this many bytes, so the final fsync is short. */
const FLUSH_EVERY = 64 * 1024 * 1024;
/** Chunks in flight (plaintext buffers): 4 measured no faster than 3, and 4 MiB bigger. */
const DEFAULT_INFLIGHT = 3;
/** A sealed buffer is needed only from the read until a worker has opened it. */
const SEALED_BUFFERS = 2;

async function writeChunks(home: Home, pool: SealPool, m: FileManifest, key: Uint8Array, fh: FileHandle, opts: RestoreOptions): Promise<string[]> {
  const buffers = pool.chunkBuffers(Math.max(1, opts.inflight ?? DEFAULT_INFLIGHT), SEALED_BUFFERS);
  try {
    return await writeChunksWith(home, pool, buffers, m, key, fh, opts);
  } finally {
    pool.dispose(buffers.plain, buffers.sealed);
  }
}

async function writeChunksWith(home: Home, pool: SealPool, buffers: ChunkBuffers, m: FileManifest, key: Uint8Array, fh: FileHandle, opts: RestoreOptions): Promise<string[]> {
  const fileHash = Buffer.from(m.file_hash, 'hex');
  const whole = pool.hashStream();
  const healed: string[] = [];
  // Chunks are opened (workers) and written at their offsets concurrently; then, in file
  // order, each goes to the whole-file hash on one worker, after which its buffer is free.
  // A FIFO of at most `count` chunks bounds it all.
  const queue: Promise<Opened>[] = [];
  const hashing: Promise<void>[] = [];
  let written = 0;
  let flushedAt = 0;
  let flushing: Promise<void> | undefined;
  const finishHead = async () => {
    opts.signal?.throwIfAborted();
    const { slot, length } = await queue.shift()!;
    hashing.push(whole.update(slot, length).finally(() => buffers.plain.release(slot)));
    written += length;
    opts.onProgress?.(length);
    // fdatasync in the background: the disk works while we decrypt the rest.
    if (!flushing && written - flushedAt >= FLUSH_EVERY) {
      flushedAt = written;
      flushing = fh.datasync().finally(() => { flushing = undefined; });
    }
  };
  try {
    let offset = 0;
    for (const c of m.chunks) {
      opts.signal?.throwIfAborted();
      if (queue.length >= buffers.count) await finishHead();
      const at = offset;
      offset += c.size;
      const p = openStoredChunk({ home, pool, buffers, key, fileHash, manifest: m, opts, healed }, c).then(async (o) => {
        try {
          await writeAt(fh, o.slot.bytes.subarray(0, o.length), at);
        } catch (e) {
          buffers.plain.release(o.slot);
          throw e;
        }
        return o;
      });
      p.catch(() => {}); // surfaced when it reaches the head of the queue
      queue.push(p);
    }
    while (queue.length) await finishHead();
    await Promise.all(hashing);
    await flushing;
  } catch (e) {
    await Promise.allSettled([...queue, ...hashing, flushing]);
    await whole.drop();
    throw e;
  }
  if (written !== m.total_size || !(await whole.digest()).equals(fileHash)) {
    throw corrupt(`restored ${m.filename} does not match its file hash ${m.file_hash}`, { hash: m.file_hash });
  }
  return healed;
}

async function writeAt(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let off = 0;
  while (off < data.length) off += (await fh.write(data, off, data.length - off, position + off)).bytesWritten;
}

interface Opened {
  slot: Slot;
  length: number;
}

interface ChunkJob {
  home: Home;
  pool: SealPool;
  buffers: ChunkBuffers;
  key: Uint8Array;
  fileHash: Buffer;
  manifest: FileManifest;
  opts: RestoreOptions;
  healed: string[];
}

/** Reads, checks and opens one chunk into a plaintext slot (the caller releases it). */
async function openStoredChunk(job: ChunkJob, c: ChunkInfo): Promise<Opened> {
  const { home, pool, buffers, key, fileHash, manifest: m, opts, healed } = job;
  const what = `chunk ${c.hash} (index ${c.index} of ${m.filename})`;
  const sealed = await buffers.sealed.acquire();
  const out = await buffers.plain.acquire();
  let handedOver = false;
  const tryOpen = async (length: number): Promise<'ok' | 'hash' | 'tag'> => {
    const r = await pool.open(key, fileHash, c.index, c.hash, sealed, length, out);
    if (r.status === 'ok' && r.plainLength !== c.size) throw corrupt(`${what} has the wrong size`, { hash: c.hash });
    return r.status;
  };
  try {
    const len = await readInto(home.objects.pathOf(c.hash), sealed.bytes);
    let problem: 'missing' | 'hash' | 'tag';
    if (len === 'missing' || len === 'too-large') {
      problem = len === 'missing' ? 'missing' : 'hash';
    } else {
      const status = await tryOpen(len);
      if (status === 'ok') {
        handedOver = true;
        return { slot: out, length: c.size };
      }
      problem = status;
    }
    // A chunk whose bytes match its hash but fail the tag does not belong to this manifest:
    // any copy of it would fail the same way, so there is nothing to fetch.
    if (problem !== 'tag') {
      const bytes = await fetchVerified(home, c.hash, 'chunk', opts, m.owner);
      if (bytes) {
        healed.push(c.hash);
        problem = 'tag'; // right hash, yet too large to be a chunk: it is not this chunk
        if (bytes.length <= sealed.bytes.length) {
          sealed.bytes.set(bytes);
          const status = await tryOpen(bytes.length);
          if (status === 'ok') {
            handedOver = true;
            return { slot: out, length: c.size };
          }
          problem = status;
        }
      }
    }
    if (problem === 'missing') throw notFound(`${what} is missing`, { hash: c.hash });
    if (problem === 'hash') throw corrupt(`${what} is corrupt (hash mismatch)`, { hash: c.hash });
    throw corrupt(`${what} is corrupt (authentication failed)`, { hash: c.hash });
  } finally {
    buffers.sealed.release(sealed);
    if (!handedOver) buffers.plain.release(out);
  }
}

/** Reads an object file into `into`; an object larger than any chunk cannot be one. */
async function readInto(path: string, into: Uint8Array): Promise<number | 'missing' | 'too-large'> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw e;
  }
  try {
    const size = (await fh.stat()).size;
    if (size > into.length) return 'too-large';
    return await readFully(fh, into, size);
  } finally {
    await fh.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
