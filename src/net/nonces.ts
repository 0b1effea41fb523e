import type { DB } from '../store/db.js';
import type { NonceStore } from './server.js';
import { MAX_SKEW_MS } from './signing.js';

/**
 * Replay cache in placement.db, so a restart does not reopen the window. Entries older than
 * twice the accepted clock skew can never be replayed (their timestamp is stale) and are pruned.
 */
export class SqliteNonceStore implements NonceStore {
  private readonly insert;
  private readonly prune;
  private lastPrune = 0;

  constructor(db: DB, private readonly clock: () => number) {
    this.insert = db.prepare('INSERT OR IGNORE INTO seen_nonces(cell_id, nonce, ts) VALUES (?, ?, ?)');
    this.prune = db.prepare('DELETE FROM seen_nonces WHERE ts < ?');
  }

  remember(cellId: string, nonce: string, ts: number): boolean {
    const now = this.clock();
    if (now - this.lastPrune > 60_000) {
      this.prune.run(now - 2 * MAX_SKEW_MS);
      this.lastPrune = now;
    }
    return this.insert.run(cellId, nonce, ts).changes === 1;
  }
}
