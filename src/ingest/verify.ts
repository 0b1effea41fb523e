import { open, readFile, type FileHandle } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import type { Home } from '../home/home.js';
import { CHUNK_SIZE, TAG_LENGTH } from '../crypto/domains.js';
import { SealPool } from './pool.js';
import { TaskWindow, type BufferRing } from './buffers.js';
import { readFully } from './read.js';

// `grove verify`: re-hash every object the catalog says we hold, plus every chunk and
// manifest our own files reference, and list object files the catalog does not know.
// Hashing runs in the worker pool; repair from peers (src/sync/repair.ts) builds on this report.

export interface VerifyReport {
  checked: number;
  corrupt: string[];
  missing: string[];
  /** Object files on disk that the catalog does not record as present (e.g. left by an interrupted add). */
  unrecorded: string[];
}

export interface VerifyOptions {
  pool?: SealPool;
  signal?: AbortSignal;
  /** Called after each object with the count checked so far and the total. */
  onProgress?: (checked: number, total: number) => void;
  inflight?: number;
}

export async function verifyStore(home: Home, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const expected = expectedObjects(home);
  const pool = opts.pool ?? new SealPool();
  const corrupt: string[] = [];
  const missing: string[] = [];
  const inflight = Math.max(1, opts.inflight ?? 4);
  const ring = pool.ring(inflight, CHUNK_SIZE + TAG_LENGTH);
  const window = new TaskWindow(inflight);
  let checked = 0;
  try {
    for (const hash of expected) {
      opts.signal?.throwIfAborted();
      await window.room();
      if (window.hasFailed) break;
      window.start(async () => {
        const state = await checkObject(home, pool, ring, hash);
        if (state === 'missing') missing.push(hash);
        else if (state === 'corrupt') corrupt.push(hash);
        checked++;
        opts.onProgress?.(checked, expected.length);
      });
    }
    await window.drain();
  } finally {
    pool.dispose(ring);
    if (!opts.pool) await pool.close();
  }
  const known = new Set(expected);
  const unrecorded: string[] = [];
  for await (const h of home.objects.list()) if (!known.has(h)) unrecorded.push(h);
  return { checked, corrupt: corrupt.sort(), missing: missing.sort(), unrecorded };
}

/** Objects recorded present, and everything our files' versions point to. */
function expectedObjects(home: Home): string[] {
  const rows = home.db.prepare(`
    SELECT hash FROM objects WHERE present = 1
    UNION SELECT hash FROM file_chunks
    UNION SELECT manifest_hash FROM files
    ORDER BY 1`).all() as { hash: string }[];
  return rows.map((r) => r.hash);
}

async function checkObject(home: Home, pool: SealPool, ring: BufferRing, hash: string): Promise<'ok' | 'corrupt' | 'missing'> {
  let fh: FileHandle;
  try {
    fh = await open(home.objects.pathOf(hash), 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw e;
  }
  try {
    const size = (await fh.stat()).size;
    if (size > ring.bytes) {
      // Only a manifest of a file of hundreds of GiB outgrows a chunk buffer: rare enough
      // to hash here.
      return createHash('sha256').update(await readFile(fh)).digest('hex') === hash ? 'ok' : 'corrupt';
    }
    const slot = await ring.acquire();
    try {
      const length = await readFully(fh, slot.bytes, size);
      return (await pool.hash(slot, length)) === hash ? 'ok' : 'corrupt';
    } finally {
      ring.release(slot);
    }
  } finally {
    await fh.close();
  }
}
