import { durably } from '../store/db.js';
import { open, type FileHandle } from 'node:fs/promises';
import { constants } from 'node:fs';
import { basename } from 'node:path';
import type { BigIntStats } from 'node:fs';
import { CHUNK_SIZE, TAG_LENGTH } from '../crypto/domains.js';
import { fileKey } from '../crypto/kdf.js';
import { sealManifest, ENCRYPTION_META, type ChunkInfo, type FileManifest } from '../formats/manifest.js';
import { recordObjects } from '../store/catalog.js';
import type { Home } from '../home/home.js';
import type { StagedObject } from '../store/objects.js';
import { GroveError, badInput } from '../errors.js';
import type { SealPool } from './pool.js';
import { Limiter, TaskWindow, type ChunkBuffers } from './buffers.js';
import { readFully } from './read.js';
import { latestVersion, chunksOf, insertVersion, type FileVersion } from './files.js';
import { recordSourceStat, statOf, trustworthy, unchangedManifest, type SourceStat } from './source-stats.js';

// `grove add` for one file (docs/design.md §2), streaming in two passes:
//   1. read the file, hashing it in a worker       -> file_hash, file_key
//   2. read it again in 4 MiB chunks; workers seal and hash each chunk while the main thread
//      writes the finished ones (bounded number in flight), and re-hashes the plaintext to
//      catch a file that changed between the passes.
// Crash safety comes from the write order: every chunk object durable (temp, fsync, rename,
// then one fsync per shard directory) before the manifest object, the manifest durable
// before the database rows, and all rows of a version in one transaction. A crash at any
// point leaves at worst unreferenced objects, which the next add of the file reuses.
// A path whose stat (size, mtime, ctime, inode, device) matches the one recorded with its
// latest version is unchanged without reading it (source-stats.ts). Many small files go
// through `addMany` (group.ts) instead: one durability barrier and one transaction per batch.

export interface IngestContext {
  home: Home;
  pool: SealPool;
  /** Milliseconds since the epoch (manifest synced_at, added_at). */
  now?: () => number;
  /**
   * The kernel's wall clock in epoch nanoseconds, compared with file times to decide whether
   * a stat may be trusted next time (source-stats.ts). Default: `Date.now()`; tests move it.
   */
  fileClockNs?: () => bigint;
  signal?: AbortSignal;
  /** Bytes done: 'hash' in the first pass, 'store' in the second (or skipped as unchanged). */
  onProgress?: (phase: 'hash' | 'store', bytes: number) => void;
  /**
   * Buffers to reuse across files (see `ingestBuffers`); without them each file gets its
   * own for the duration of the add. Their count is the number of chunks in flight.
   */
  buffers?: ChunkBuffers;
}

/**
 * Chunks read ahead: enough to keep both workers busy (measured: 4 is no faster, and costs
 * 4 MiB more of the 150 MB peak budget). Sealed chunks are written to a temp
 * file (page cache) as soon as they come back, so fewer sealed buffers suffice; the fsync
 * that follows holds no buffer. Memory ≈ 4 MiB × (this + SEALED_BUFFERS).
 */
export const DEFAULT_INFLIGHT = 3;
const SEALED_BUFFERS = 2;

/** Buffers for `IngestContext.buffers`; give them back with `pool.dispose(b.plain, b.sealed)`. */
export function ingestBuffers(pool: SealPool, inflight = DEFAULT_INFLIGHT, sealed = SEALED_BUFFERS): ChunkBuffers {
  return pool.chunkBuffers(inflight, sealed);
}

export interface AddResult {
  path: string;
  name: string;
  size: number;
  file_hash: string;
  manifest_hash: string;
  version: number;
  chunks: number;
  new_chunks: number;
  /** True when the path already had this content as its latest version. */
  unchanged: boolean;
}

export interface AddOptions {
  /** Record the file under this absolute path instead of the one it is read from. */
  sourcePath?: string;
}

const MAX_VERSION_RETRIES = 5;
const PENDING_OBJECTS = 32;
const FSYNCS_AT_ONCE = 2;

export async function addFile(ctx: IngestContext, path: string, opts: AddOptions = {}): Promise<AddResult> {
  // O_NONBLOCK: if the path became a FIFO since it was listed, opening must not hang.
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat({ bigint: true });
    if (!st.isFile()) throw badInput(`${path}: not a regular file`);
    // The stat index speaks of the file at `path`: a file read from elsewhere (an upload's
    // temp file) under another name neither uses nor feeds it.
    const tracked = opts.sourcePath === undefined || opts.sourcePath === path;
    const sourcePath = opts.sourcePath ?? path;
    const known = tracked ? unchangedVersion(ctx.home, sourcePath, statOf(st)) : undefined;
    if (known) {
      ctx.onProgress?.('hash', known.size);
      ctx.onProgress?.('store', known.size);
      return resultOf(known, 0, true);
    }
    return await addOpenFile(ctx, fh, st, sourcePath, tracked);
  } finally {
    await fh.close().catch(() => {});
  }
}

/**
 * The latest version of `path`, when the stat recorded with it still matches `st` and its
 * objects are all here: the file is unchanged and need not be read.
 */
export function unchangedVersion(home: Home, path: string, st: SourceStat): FileVersion | undefined {
  const manifest = unchangedManifest(home.db, path, st);
  if (manifest === undefined) return undefined;
  const latest = latestVersion(home.db, path);
  if (!latest || latest.manifest_hash !== manifest || !allObjectsPresent(home, latest)) return undefined;
  return latest;
}

/** The stat to record for a file read from `readAtNs` on, if it may be trusted next time. */
export function statToRecord(tracked: boolean, st: BigIntStats, readAtNs: bigint): SourceStat | undefined {
  return tracked && trustworthy(st, readAtNs) ? statOf(st) : undefined;
}

/** Now on the clock file times come from (the kernel's, not the cell's), in epoch nanoseconds. */
export function wallNs(ctx: IngestContext): bigint {
  return ctx.fileClockNs?.() ?? BigInt(Date.now()) * 1_000_000n;
}

async function addOpenFile(ctx: IngestContext, fh: FileHandle, before: BigIntStats, sourcePath: string, tracked: boolean): Promise<AddResult> {
  const own = ctx.buffers ? undefined : ingestBuffers(ctx.pool);
  try {
    return await addWithBuffers(ctx, (ctx.buffers ?? own)!, fh, before, sourcePath, tracked);
  } finally {
    if (own) ctx.pool.dispose(own.plain, own.sealed);
  }
}

async function addWithBuffers(ctx: IngestContext, buffers: ChunkBuffers, fh: FileHandle, before: BigIntStats, sourcePath: string, tracked: boolean): Promise<AddResult> {
  const { home } = ctx;
  const { db, objects, keys } = home;
  const now = ctx.now ?? Date.now;
  const readAt = wallNs(ctx);
  const { digest: fileHash, size } = await hashPass(ctx, buffers, fh);
  const fileHashHex = fileHash.toString('hex');
  const name = basename(sourcePath);

  const latest = latestVersion(db, sourcePath);
  const same = latest !== undefined && latest.file_hash === fileHashHex && latest.size === size;
  if (same && allObjectsPresent(home, latest)) {
    const after = await fh.stat({ bigint: true });
    if (!changed(before, after)) {
      const st = statToRecord(tracked, after, readAt);
      if (st) db.transaction(() => recordSourceStat(db, sourcePath, latest.manifest_hash, st))();
    }
    ctx.onProgress?.('store', size);
    return resultOf(latest, 0, true);
  }

  const key = fileKey(keys.master, fileHash);
  const sealed = await sealPass(ctx, buffers, fh, key, fileHash, size);
  const after = await fh.stat({ bigint: true });
  if (changed(before, after)) {
    throw new GroveError('CONFLICT', 'the file changed while it was being added; try again');
  }
  const stat = statToRecord(tracked, after, readAt);
  await objects.syncDirs(sealed.chunks.map((c) => c.hash));

  // `same` here means the content is the latest version but some object went missing:
  // re-sealing is deterministic, so rebuilding the manifest with the recorded version and
  // time restores the very same manifest object.
  for (let attempt = 0; ; attempt++) {
    const current = latestVersion(db, sourcePath);
    const version = same ? latest.version : (current?.version ?? 0) + 1;
    const syncedAt = same ? latest.added_at : now();
    const manifest: FileManifest = {
      filename: name,
      source_path: sourcePath,
      chunks: sealed.chunks,
      total_size: size,
      file_hash: fileHashHex,
      encryption: { ...ENCRYPTION_META },
      version,
      synced_at: syncedAt,
      owner: keys.cellId,
    };
    const manifestBytes = sealManifest(key, manifest);
    const { hash: manifestHash } = await objects.put(manifestBytes);
    if (same && manifestHash !== latest.manifest_hash) {
      throw new GroveError('INTERNAL', `rebuilt manifest of ${sourcePath} differs from the recorded one`);
    }
    const row: Omit<FileVersion, 'id'> = {
      path: sourcePath, name, version, size, file_hash: fileHashHex, manifest_hash: manifestHash,
      chunks: sealed.chunks.length, added_at: syncedAt,
    };
    const committed = await durably(db, () => {
      // Another `grove add` of the same path may have committed a version meanwhile.
      if (!same && (latestVersion(db, sourcePath)?.version ?? 0) !== version - 1) return false;
      recordObjects(db, [
        ...sealed.chunks.map((c) => ({ hash: c.hash, size: c.size + TAG_LENGTH, kind: 'chunk' as const, owner: keys.cellId })),
        { hash: manifestHash, size: manifestBytes.length, kind: 'manifest', owner: keys.cellId },
      ], now());
      if (!same) insertVersion(db, row, sealed.chunks);
      if (tracked) recordSourceStat(db, sourcePath, manifestHash, stat);
      return true;
    });
    if (committed) return resultOf(row, sealed.newChunks, same);
    if (attempt >= MAX_VERSION_RETRIES) {
      throw new GroveError('CONFLICT', `${sourcePath} is being added concurrently; try again`);
    }
  }
}

/**
 * Whether the file was written to between the passes. Every write updates mtime and ctime
 * (nanoseconds on Linux filesystems), as backup tools rely on; re-hashing the plaintext in
 * pass 2 instead would cost a third SHA-256 of the file on the critical path. A writer that
 * hid its tracks would still not get wrong bytes out: `get` checks the SHA-256 of the result.
 */
export function changed(a: BigIntStats, b: BigIntStats): boolean {
  return a.size !== b.size || a.mtimeNs !== b.mtimeNs || a.ctimeNs !== b.ctimeNs || a.ino !== b.ino || a.dev !== b.dev;
}

export function resultOf(v: Omit<FileVersion, 'id'>, newChunks: number, unchanged: boolean): AddResult {
  return {
    path: v.path, name: v.name, size: v.size, file_hash: v.file_hash, manifest_hash: v.manifest_hash,
    version: v.version, chunks: v.chunks, new_chunks: newChunks, unchanged,
  };
}

export function allObjectsPresent(home: Home, v: FileVersion): boolean {
  if (!home.objects.has(v.manifest_hash)) return false;
  return chunksOf(home.db, v.manifest_hash).every((c) => home.objects.has(c.hash));
}

export function chunkCount(size: number): number {
  return Math.max(1, Math.ceil(size / CHUNK_SIZE));
}

/** Pass 1: SHA-256 of the whole file, computed in a worker while the next block is read. */
async function hashPass(ctx: IngestContext, buffers: ChunkBuffers, fh: FileHandle): Promise<{ digest: Buffer; size: number }> {
  const stream = ctx.pool.hashStream();
  const ring = buffers.plain;
  let pos = 0;
  let failure: unknown;
  try {
    while (failure === undefined) {
      ctx.signal?.throwIfAborted();
      const s = await ring.acquire();
      let n: number;
      try {
        n = (await fh.read(s.bytes, 0, s.bytes.length, pos)).bytesRead;
      } catch (e) {
        ring.release(s);
        throw e;
      }
      if (n === 0) {
        ring.release(s);
        break;
      }
      pos += n;
      stream.update(s, n).then(
        () => { ring.release(s); ctx.onProgress?.('hash', n); },
        (e) => { failure ??= e; ring.release(s); },
      );
    }
    if (failure !== undefined) throw failure;
    // Updates run in order on one worker, so the digest comes after all of them, and by
    // then every buffer is back in the ring.
    return { digest: await stream.digest(), size: pos };
  } catch (e) {
    await stream.drop();
    throw e;
  }
}

interface SealedFile {
  chunks: ChunkInfo[];
  newChunks: number;
}

/** Pass 2: seal, hash and store every chunk; check the content is what pass 1 hashed. */
async function sealPass(ctx: IngestContext, buffers: ChunkBuffers, fh: FileHandle, key: Buffer, fileHash: Buffer, size: number): Promise<SealedFile> {
  const { pool, home } = ctx;
  const n = chunkCount(size);
  // A chunk's life: read, seal (worker), write to a temp file, fsync + rename. Buffers are
  // released after the write, so the rings bound memory while up to PENDING_OBJECTS chunks
  // wait for the disk; at most FSYNCS_AT_ONCE fsyncs run together so they never take all
  // of libuv's threads from the reads and writes that keep the pipeline fed.
  const window = new TaskWindow(Math.max(buffers.count, PENDING_OBJECTS));
  const fsyncs = new Limiter(FSYNCS_AT_ONCE);
  const chunks: ChunkInfo[] = new Array<ChunkInfo>(n);
  let newChunks = 0;
  let stored = 0;
  for (let i = 0; i < n && !window.hasFailed; i++) {
    if (ctx.signal?.aborted) break;
    await window.room();
    const plain = await buffers.plain.acquire();
    const len = Math.min(CHUNK_SIZE, size - i * CHUNK_SIZE);
    let got: number;
    try {
      got = await readFully(fh, plain.bytes, len, i * CHUNK_SIZE);
    } catch (e) {
      buffers.plain.release(plain);
      throw e;
    }
    if (got !== len) {
      buffers.plain.release(plain);
      break; // the file shrank: reported below
    }
    const out = await buffers.sealed.acquire();
    const index = i;
    window.start(async () => {
      let staged: StagedObject | undefined;
      let hash: string;
      let plainHeld = true;
      try {
        const r = await pool.seal(key, fileHash, index, plain, len, out);
        buffers.plain.release(plain);
        plainHeld = false;
        hash = r.hash;
        staged = await home.objects.stage(hash, out.bytes.subarray(0, r.sealedLength));
      } finally {
        if (plainHeld) buffers.plain.release(plain);
        buffers.sealed.release(out);
      }
      if (staged) {
        await fsyncs.run(() => staged.commit({ syncDir: false }));
        newChunks++;
      }
      chunks[index] = { hash, size: len, index };
      stored++;
      ctx.onProgress?.('store', len);
    });
  }
  await window.drain();
  ctx.signal?.throwIfAborted();
  const tail = await fh.read(Buffer.alloc(1), 0, 1, size);
  if (tail.bytesRead !== 0 || stored !== n) {
    throw new GroveError('CONFLICT', 'the file changed while it was being added; try again');
  }
  return { chunks, newChunks };
}
