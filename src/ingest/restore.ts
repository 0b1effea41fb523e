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
// and hands the plaintext on; the SHA-256 of the result must equal file_hash. `readChunks`
// is the one reader: `restoreFile` writes to a temp file beside the target, renamed into
// place only when all of that holds, so a failed restore leaves nothing behind; the
// dashboard streams the same chunks into an HTTP response (src/web/routes-transfer.ts). A
// missing or corrupt local object is asked of `fetchObject` (peers); what it returns is
// hash-checked and stored locally.

export type FetchObject = (hash: string) => Promise<Buffer | undefined>;

export interface LoadOptions {
  fetchObject?: FetchObject;
  now?: () => number;
}

export interface ReadOptions extends LoadOptions {
  /** Workers to use; without it a pool is started for this read and closed after. */
  pool?: SealPool;
  signal?: AbortSignal;
  /** Plaintext bytes done so far, as they happen. */
  onProgress?: (bytes: number) => void;
  /** Chunks in flight (default 3). */
  inflight?: number;
}

export interface RestoreOptions extends ReadOptions {
  /** Replace an existing output file. */
  force?: boolean;
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
  const tmp = tempPathFor(out);
  let fh: FileHandle | undefined;
  let flushing: Promise<void> | undefined;
  try {
    fh = await open(tmp, 'wx', 0o666);
    const file = fh;
    let written = 0;
    let flushedAt = 0;
    // Chunks are written at their offsets as soon as they are open; fdatasync runs in the
    // background every FLUSH_EVERY bytes, so the disk works while we decrypt the rest.
    const healed = await readChunks(home, manifest, fileKey, {
      opened: (bytes, offset) => writeAt(file, bytes, offset),
      next: async (bytes) => {
        written += bytes.length;
        if (!flushing && written - flushedAt >= FLUSH_EVERY) {
          flushedAt = written;
          flushing = file.datasync().finally(() => { flushing = undefined; });
        }
      },
    }, opts);
    await flushing;
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, out);
    await fsyncDir(dirname(out));
    return { out, manifest, healed };
  } catch (e) {
    await flushing?.catch(() => {});
    await fh?.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

/**
 * Where a file's plaintext goes as `readChunks` opens it. Every chunk handed over has passed
 * its object hash, its tag and its size. `opened` gets each chunk as soon as it is open, in
 * any order (a file written at offsets); `next` gets them one at a time in file order, and
 * the last one only once the whole file's SHA-256 has matched file_hash, so a consumer that
 * passes bytes on as they come (an HTTP response) can never complete a wrong file. The
 * bytes belong to a reused buffer: they are valid until the returned promise resolves.
 */
export interface PlainSink {
  opened?(bytes: Uint8Array, offset: number): Promise<void>;
  next?(bytes: Uint8Array): Promise<void>;
}

/**
 * Reads a file's chunks, verified, into `sink` with bounded memory (`inflight` chunks and
 * two sealed buffers, whatever the file size). Missing or corrupt objects are asked of
 * `fetchObject`; returns the objects healed that way. A failure (a chunk missing or
 * corrupt everywhere, a whole-file hash mismatch, an abort) is thrown after the chunks
 * before it went to `next`, and before the last one does.
 */
export async function readChunks(home: Home, manifest: FileManifest, fileKey: Uint8Array, sink: PlainSink, opts: ReadOptions = {}): Promise<string[]> {
  const pool = opts.pool ?? new SealPool();
  const buffers = pool.chunkBuffers(Math.max(1, opts.inflight ?? DEFAULT_INFLIGHT), SEALED_BUFFERS);
  try {
    return await readChunksWith({ home, pool, buffers, key: fileKey, fileHash: Buffer.from(manifest.file_hash, 'hex'), manifest, opts, healed: [] }, sink);
  } finally {
    pool.dispose(buffers.plain, buffers.sealed);
    if (!opts.pool) await pool.close();
  }
}

/** Start flushing the output to disk every this many bytes, so the final fsync is short. */
const FLUSH_EVERY = 64 * 1024 * 1024;
/** Chunks in flight (plaintext buffers): 4 measured no faster than 3, and 4 MiB bigger. */
const DEFAULT_INFLIGHT = 3;
/** A sealed buffer is needed only from the read until a worker has opened it. */
const SEALED_BUFFERS = 2;

async function readChunksWith(job: ChunkJob, sink: PlainSink): Promise<string[]> {
  const { pool, buffers, manifest: m, opts } = job;
  const whole = pool.hashStream();
  // Chunks are opened (workers) and handed to `opened` concurrently; then, in file order,
  // each goes to the whole-file hash on one worker and to `next`, after which its buffer is
  // free. A FIFO of at most `count` chunks bounds it all.
  const queue: Promise<Opened>[] = [];
  const hashing: Promise<void>[] = [];
  let finished = 0;
  let written = 0;
  const finishHead = async () => {
    opts.signal?.throwIfAborted();
    const { slot, length } = await queue.shift()!;
    const hashed = whole.update(slot, length);
    try {
      written += length;
      if (++finished === m.chunks.length) {
        // The last chunk is held back until the whole file has proved right.
        await Promise.all([...hashing, hashed]);
        if (written !== m.total_size || !(await whole.digest()).equals(job.fileHash)) {
          throw corrupt(`restored ${m.filename} does not match its file hash ${m.file_hash}`, { hash: m.file_hash });
        }
      }
      await sink.next?.(slot.bytes.subarray(0, length));
      opts.onProgress?.(length);
    } finally {
      // The buffer is free once the hash has read it too (`next` is done with it by now).
      const free = hashed.finally(() => buffers.plain.release(slot));
      free.catch(() => {}); // surfaced below
      hashing.push(free);
    }
  };
  try {
    let offset = 0;
    for (const c of m.chunks) {
      opts.signal?.throwIfAborted();
      if (queue.length >= buffers.count) await finishHead();
      const at = offset;
      offset += c.size;
      const p = openStoredChunk(job, c).then(async (o) => {
        try {
          await sink.opened?.(o.slot.bytes.subarray(0, o.length), at);
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
  } catch (e) {
    await Promise.allSettled([...queue, ...hashing]);
    await whole.drop();
    throw e;
  }
  return job.healed;
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
  opts: ReadOptions;
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
