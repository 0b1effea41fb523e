import { durably } from '../store/db.js';
import { open } from 'node:fs/promises';
import { constants } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { CHUNK_SIZE, TAG_LENGTH } from '../crypto/domains.js';
import { fileKey } from '../crypto/kdf.js';
import { sealManifest, ENCRYPTION_META, type ChunkInfo, type FileManifest } from '../formats/manifest.js';
import { recordObjects, type ObjectKind } from '../store/catalog.js';
import type { StagedObject } from '../store/objects.js';
import { GroveError, badInput } from '../errors.js';
import { Limiter, TaskWindow, type Slot } from './buffers.js';
import { readFully } from './read.js';
import { latestVersion, insertVersion, type FileVersion } from './files.js';
import { recordSourceStat, statOf, type SourceStat } from './source-stats.js';
import {
  addFile, allObjectsPresent, changed, resultOf, statToRecord, unchangedVersion, wallNs,
  type AddResult, type IngestContext,
} from './add.js';

// Group commit for many files (docs/design.md §2, "Many small files"). A file of one chunk
// is read once, hashed and sealed in a worker, and its chunk and manifest are written to
// temp files without an fsync. When a batch is full (GROUP_FILES files or GROUP_BYTES
// bytes) one durability barrier makes all of it durable: every temp file is fsynced, many at
// once, then renamed into place, then each touched shard directory is fsynced; after that
// one SQLite transaction records every version of the batch. The next batch is read and
// sealed while the barrier runs. The guarantee is the one of a single add: a file is
// reported only after its objects are durable and its rows committed, and a crash at any
// point leaves at worst unreferenced objects or temp files (swept at the next start or add).
// Files larger than one chunk take the single-file pipeline, which streams them.

/** Files per barrier, and bytes staged per barrier. */
export const GROUP_FILES = 256;
export const GROUP_BYTES = 64 * 1024 * 1024;
/** fsyncs issued together during a barrier (libuv's pool is widened by the CLI to match). */
export const BARRIER_FSYNCS = 16;

export interface ManyInput {
  path: string;
  size: number;
}

export interface ManyCallbacks {
  /** A file is added (or found unchanged): durable and recorded. */
  onResult(r: AddResult): void;
  /** A file failed; the others go on. */
  onError(path: string, e: unknown): void;
}

interface Staged {
  path: string;
  row: Omit<FileVersion, 'id'>;
  chunks: ChunkInfo[];
  objects: { hash: string; size: number; kind: ObjectKind }[];
  staged: StagedObject[];
  stat: SourceStat | undefined;
  /** Content unchanged: nothing to write, only the stat to record. */
  unchanged: boolean;
  newChunks: number;
}

/**
 * Adds many files: small ones in group-committed batches, large ones one by one. Results
 * and errors are reported through the callbacks as each batch commits. Aborting the signal
 * stops at the next file; the batch under way is dropped (its temp files removed).
 */
export async function addMany(ctx: IngestContext, files: ManyInput[], cb: ManyCallbacks): Promise<void> {
  const buffers = ctx.buffers;
  if (!buffers) throw new GroveError('INTERNAL', 'addMany needs shared buffers');
  let batch: Staged[] = [];
  let batchBytes = 0;
  let barrier: Promise<void> = Promise.resolve();
  // One small file per sealed buffer in flight, so both workers stay busy; tiny files, sealed
  // here in buffers of their own size, are many more at once (their cost is waiting on the
  // thread pool, not crypto).
  const window = new TaskWindow(buffers.sealed.count);
  const tinyWindow = new TaskWindow(TINY_FILES_IN_FLIGHT);
  const drainAll = () => Promise.all([window.drain(), tinyWindow.drain()]);

  const flush = async (): Promise<void> => {
    // Tasks finish while the loop waits for room, so the batch may have grown a little past
    // its bound: take exactly one batch's worth, and leave the rest for the next one.
    const items = batch.splice(0, GROUP_FILES);
    batchBytes = batch.reduce((n, s) => n + s.row.size, 0);
    await barrier; // one barrier at a time, in order
    barrier = commitBatch(ctx, items, cb);
  };

  try {
    for (const f of files) {
      if (ctx.signal?.aborted) break;
      if (f.size > CHUNK_SIZE) {
        await drainAll(); // the streaming pipeline wants every buffer
        try {
          cb.onResult(await addFile(ctx, f.path));
        } catch (e) {
          if (ctx.signal?.aborted) break;
          cb.onError(f.path, e);
        }
        continue;
      }
      const tiny = f.size <= INLINE_CRYPTO_BYTES;
      const w = tiny ? tinyWindow : window;
      await w.room();
      w.start(async () => {
        let s: Staged | 'repair';
        try {
          s = await stageSmall(ctx, f.path, tiny);
        } catch (e) {
          if (!ctx.signal?.aborted) cb.onError(f.path, e);
          return;
        }
        if (s === 'repair') {
          // The content is the latest version but objects of it are missing: the single
          // pipeline rebuilds them byte for byte.
          try { cb.onResult(await addFile(ctx, f.path)); } catch (e) { cb.onError(f.path, e); }
          return;
        }
        batch.push(s);
        batchBytes += s.row.size;
      });
      if (batch.length >= GROUP_FILES || batchBytes >= GROUP_BYTES) await flush();
    }
    await drainAll();
  } finally {
    if (ctx.signal?.aborted) {
      await barrier.catch(() => {});
      await Promise.all(batch.flatMap((s) => s.staged.map((o) => o.abort())));
      batch = [];
    }
  }
  ctx.signal?.throwIfAborted();
  while (batch.length > 0) await flush();
  await barrier;
}

/**
 * Files up to this size ("tiny") are hashed and sealed on the calling thread, in buffers of
 * their own. Handing a file to a seal worker and back costs two message round trips (~0.25 ms
 * each, measured on two cores), more than the crypto of 64 KiB itself (SHA-256,
 * ChaCha20-Poly1305, SHA-256: ~0.1 ms); at 256 KiB the crypto blocks the event loop for
 * ~0.4 ms per file, which a daemon adding a watched folder can afford. The bytes are the same
 * either way (`SealPool.hashHere` / `sealHere` run the workers' functions).
 */
export const INLINE_CRYPTO_BYTES = 256 * 1024;
/**
 * Tiny files staged at once. Each waits mostly on libuv's pool (open, read, stat, the temp
 * writes: ~9 round trips), so more in flight keep the disk busy; memory ≤ 2 × 256 KiB each.
 */
export const TINY_FILES_IN_FLIGHT = 16;

/** A buffer of this file's own, shaped as a ring slot (never shared with a worker). */
function ownSlot(bytes: number): Slot {
  return { ring: -1, slot: -1, bytes: Buffer.allocUnsafe(bytes) };
}

/** Reads, hashes, seals and stages one file of at most one chunk; nothing is durable yet. */
async function stageSmall(ctx: IngestContext, path: string, tiny: boolean): Promise<Staged | 'repair'> {
  const { home, pool } = ctx;
  const { db, objects, keys } = home;
  const buffers = ctx.buffers!;
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  // A tiny file gets buffers of its own size (the file may have grown since it was listed:
  // up to one chunk, read and sealed here all the same).
  let plain: Slot | undefined;
  let out: Slot | undefined;
  const staged: StagedObject[] = [];
  try {
    const before = await fh.stat({ bigint: true });
    if (!before.isFile()) throw badInput(`${path}: not a regular file`);
    const known = unchangedVersion(home, path, statOf(before));
    if (known) {
      ctx.onProgress?.('hash', known.size);
      ctx.onProgress?.('store', known.size);
      return { path, row: known, chunks: [], objects: [], staged, stat: undefined, unchanged: true, newChunks: 0 };
    }
    const readAt = wallNs(ctx);
    // One byte more than a chunk: a file that grew past one chunk since it was listed.
    const want = Math.min(Number(before.size) + 1, CHUNK_SIZE);
    plain = tiny ? ownSlot(want) : await buffers.plain.acquire();
    const size = await readFully(fh, plain.bytes, want, 0);
    if (size !== Number(before.size)) throw changedError();
    ctx.onProgress?.('hash', size);
    const fileHashHex = tiny ? pool.hashHere(plain.bytes.subarray(0, size)) : await pool.hash(plain, size);
    const fileHash = Buffer.from(fileHashHex, 'hex');

    const latest = latestVersion(db, path);
    const same = latest !== undefined && latest.file_hash === fileHashHex && latest.size === size;
    if (same) {
      if (!allObjectsPresent(home, latest)) return 'repair';
      const after = await fh.stat({ bigint: true });
      if (changed(before, after)) throw changedError();
      ctx.onProgress?.('store', size);
      return { path, row: latest, chunks: [], objects: [], staged, stat: statToRecord(true, after, readAt), unchanged: true, newChunks: 0 };
    }

    const key = fileKey(keys.master, fileHash);
    out = tiny ? ownSlot(size + TAG_LENGTH) : await buffers.sealed.acquire();
    const r = tiny ? pool.sealHere(key, fileHash, 0, plain.bytes.subarray(0, size), out.bytes) : await pool.seal(key, fileHash, 0, plain, size, out);
    const chunk: ChunkInfo = { hash: r.hash, size, index: 0 };
    const chunkObject = await objects.stage(r.hash, out.bytes.subarray(0, r.sealedLength));
    if (!tiny) buffers.sealed.release(out);
    out = undefined;
    if (chunkObject) staged.push(chunkObject);

    const version = (latest?.version ?? 0) + 1;
    const addedAt = (ctx.now ?? Date.now)();
    const manifest: FileManifest = {
      filename: basename(path), source_path: path, chunks: [chunk], total_size: size, file_hash: fileHashHex,
      encryption: { ...ENCRYPTION_META }, version, synced_at: addedAt, owner: keys.cellId,
    };
    const manifestBytes = sealManifest(key, manifest);
    const manifestHash = createHash('sha256').update(manifestBytes).digest('hex');
    const manifestObject = await objects.stage(manifestHash, manifestBytes);
    if (manifestObject) staged.push(manifestObject);

    const after = await fh.stat({ bigint: true });
    if (changed(before, after)) throw changedError();
    ctx.onProgress?.('store', size);
    return {
      path,
      row: { path, name: basename(path), version, size, file_hash: fileHashHex, manifest_hash: manifestHash, chunks: 1, added_at: addedAt },
      chunks: [chunk],
      objects: [
        { hash: chunk.hash, size: size + TAG_LENGTH, kind: 'chunk' },
        { hash: manifestHash, size: manifestBytes.length, kind: 'manifest' },
      ],
      staged: [...staged],
      stat: statToRecord(true, after, readAt),
      unchanged: false,
      newChunks: chunkObject ? 1 : 0,
    };
  } catch (e) {
    await Promise.all(staged.map((o) => o.abort()));
    throw e;
  } finally {
    if (!tiny && plain) buffers.plain.release(plain);
    if (!tiny && out) buffers.sealed.release(out);
    await fh.close().catch(() => {});
  }
}

function changedError(): GroveError {
  return new GroveError('CONFLICT', 'the file changed while it was being added; try again');
}

/**
 * The durability barrier and the transaction of one batch. A failed barrier (a full disk)
 * fails every file of the batch and removes what it staged; a version that another add
 * committed meanwhile goes through the single pipeline again.
 */
async function commitBatch(ctx: IngestContext, items: Staged[], cb: ManyCallbacks): Promise<void> {
  if (items.length === 0) return;
  const { db, objects, keys } = ctx.home;
  const fsyncs = new Limiter(BARRIER_FSYNCS);
  const all = items.flatMap((s) => s.staged);
  const settled = await Promise.allSettled(all.map((o) => fsyncs.run(() => o.commit({ syncDir: false }))));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // Renamed objects stay (they are whole and durable, and a later add reuses them);
    // nothing of this batch is recorded.
    await Promise.all(all.map((o) => o.abort()));
    for (const s of items) cb.onError(s.path, failed.reason);
    return;
  }
  try {
    await objects.syncDirs(all.map((o) => o.hash));
  } catch (e) {
    for (const s of items) cb.onError(s.path, e);
    return;
  }
  const now = (ctx.now ?? Date.now)();
  const retry: Staged[] = [];
  await durably(db, () => {
    for (const s of items) {
      if (s.unchanged) {
        if (s.stat) recordSourceStat(db, s.path, s.row.manifest_hash, s.stat);
        continue;
      }
      // Another `grove add` of the same path may have committed a version meanwhile.
      if ((latestVersion(db, s.path)?.version ?? 0) !== s.row.version - 1) {
        retry.push(s);
        continue;
      }
      recordObjects(db, s.objects.map((o) => ({ ...o, owner: keys.cellId })), now);
      insertVersion(db, s.row, s.chunks);
      recordSourceStat(db, s.path, s.row.manifest_hash, s.stat);
    }
  });
  for (const s of items) {
    if (!retry.includes(s)) cb.onResult(resultOf(s.row, s.newChunks, s.unchanged));
  }
  for (const s of retry) {
    try { cb.onResult(await addFile(ctx, s.path)); } catch (e) { cb.onError(s.path, e); }
  }
}
