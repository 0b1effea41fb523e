import { open } from 'node:fs/promises';

// Group commit for the WAL (docs/design.md §1, "Durable commits"). A commit that must survive
// a power cut is made at the connection's usual `synchronous = NORMAL` (SQLite writes its
// frames to placement.db-wal without an fsync), then the WAL file is fsynced here, on libuv's
// pool, so the main thread never waits on the disk. Commits that land while an fsync runs share
// the next one. Once that fsync returns, every frame committed before it began is on disk,
// which is what SQLite's own `synchronous = FULL` gives a WAL commit.

/** Runs `flush` for every caller, but never twice at once, and once for all who wait together. */
export class GroupSync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  constructor(private readonly flush: () => Promise<void>) {}

  /** Resolves once a flush that began after this call has finished. */
  sync(): Promise<void> {
    if (this.next) return this.next; // starts after the running one: covers this caller too
    if (!this.running) return this.start();
    const next = this.running.catch(() => {}).then(() => {
      this.next = undefined;
      return this.start();
    });
    this.next = next;
    return next;
  }

  private start(): Promise<void> {
    const run = this.flush().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}

/**
 * fsyncs a file by path: opened afresh each time, so a file that SQLite replaced is never
 * missed through a stale descriptor. A WAL that no longer exists was checkpointed into the
 * database and removed when its last connection closed, which SQLite does only after syncing
 * the database: nothing is left to sync.
 */
export async function fsyncPath(path: string): Promise<void> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

const syncers = new Map<string, GroupSync>();

/** The WAL syncer of a database file (one per path in this process, shared by its connections). */
export function walSyncer(dbPath: string): GroupSync {
  let s = syncers.get(dbPath);
  if (!s) {
    const wal = `${dbPath}-wal`;
    syncers.set(dbPath, (s = new GroupSync(() => fsyncPath(wal))));
  }
  return s;
}
