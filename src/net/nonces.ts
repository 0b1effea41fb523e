import type { DB } from '../store/db.js';
import type { NonceStore } from './server.js';
import { MAX_SKEW_MS } from './signing.js';
import { GroveError } from '../errors.js';

/** Nonces held in memory while placement.db cannot take writes (a full disk). */
export const MAX_MEMORY_NONCES = 100_000;

/**
 * Replay cache in placement.db, so a restart does not reopen the window. Entries older than
 * twice the accepted clock skew can never be replayed (their timestamp is stale) and are pruned.
 *
 * When the database refuses the write (a full disk), the nonce is kept in a bounded in-memory
 * cache instead and checked there first: a full disk must not turn every signed request into
 * a 500 and take the cell offline for its peers (reads keep being answered).
 */
export class SqliteNonceStore implements NonceStore {
  private readonly insert;
  private readonly prune;
  private readonly exists;
  private lastPrune = 0;
  private readonly memory = new Map<string, number>();

  constructor(db: DB, private readonly clock: () => number, private readonly onFallback?: (e: unknown) => void) {
    this.insert = db.prepare('INSERT OR IGNORE INTO seen_nonces(cell_id, nonce, ts) VALUES (?, ?, ?)');
    this.prune = db.prepare('DELETE FROM seen_nonces WHERE ts < ?');
    this.exists = db.prepare('SELECT 1 FROM seen_nonces WHERE cell_id = ? AND nonce = ?');
  }

  remember(cellId: string, nonce: string, ts: number): boolean {
    const now = this.clock();
    const key = `${cellId}:${nonce}`;
    if (this.memory.has(key)) return false;
    if (now - this.lastPrune > 60_000) {
      this.lastPrune = now;
      this.pruneMemory(now);
      try {
        this.prune.run(now - 2 * MAX_SKEW_MS);
      } catch {
        /* a full disk: pruning waits for the next minute */
      }
    }
    try {
      return this.insert.run(cellId, nonce, ts).changes === 1;
    } catch (e) {
      this.onFallback?.(e);
      if (this.exists.get(cellId, nonce)) return false;
      if (this.memory.size >= MAX_MEMORY_NONCES) this.pruneMemory(now);
      if (this.memory.size >= MAX_MEMORY_NONCES) throw new GroveError('DISK_FULL', 'this cell cannot record requests right now; retry later');
      this.memory.set(key, ts);
      return true;
    }
  }

  /** Nonces kept in memory only (while the database could not take them). */
  get inMemory(): number {
    return this.memory.size;
  }

  private pruneMemory(now: number): void {
    for (const [k, ts] of this.memory) if (ts < now - 2 * MAX_SKEW_MS) this.memory.delete(k);
  }
}
