import type { DB } from '../store/db.js';
import type { ObjectStore } from '../store/objects.js';

// A `grove add` killed mid-write leaves temp files in the object shards. Finding them means
// listing every shard, which costs as much as the store is big (a million names), so an add
// does not sweep every time: each records that it runs (a `meta` key per process) and the
// next add sweeps only when such a record was left by a process that is gone.

const PREFIX = 'add_running:';

/** Records that this process is adding; call the result when it is done (also after an error). */
export function markAddRunning(db: DB, pid: number, now: number): () => void {
  const key = `${PREFIX}${pid}`;
  db.prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, String(now));
  return () => { db.prepare('DELETE FROM meta WHERE key = ?').run(key); };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Sweeps the object shards when an earlier add died (its record is left and its process is
 * gone): every temp file goes, as a killed add's are among them. Returns the files removed.
 */
export async function sweepAfterInterruptedAdds(db: DB, objects: ObjectStore, o: { alive?: (pid: number) => boolean; self?: number } = {}): Promise<number> {
  const alive = o.alive ?? isAlive;
  const keys = db.prepare(`SELECT key FROM meta WHERE key LIKE '${PREFIX}%'`).pluck().all() as string[];
  const dead = keys.filter((k) => {
    const pid = Number(k.slice(PREFIX.length));
    return pid !== o.self && !(Number.isSafeInteger(pid) && pid > 0 && alive(pid));
  });
  if (dead.length === 0) return 0;
  const removed = await objects.sweepTemp();
  for (const k of dead) db.prepare('DELETE FROM meta WHERE key = ?').run(k);
  return removed;
}
