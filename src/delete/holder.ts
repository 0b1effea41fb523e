import type { FastifyInstance } from 'fastify';
import type { Home } from '../home/home.js';
import { dropRef, getObject, hadRef, hasRef, recordObject, refAddedAt } from '../store/catalog.js';
import { isHash } from '../crypto/encoding.js';
import { badInput, GroveError } from '../errors.js';
import { MAX_DELETE_JSON_BYTES, MAX_DELETE_OBJECTS, parseDeleteRequest } from './request.js';
import { moveToTrash, restoreFromTrash, trashRow, trimOwnerTrash } from './trash.js';

// The holder side of deletes (docs/delete.md, docs/protocol.md): POST /api/delete takes an
// owner's signed DeleteRequest and moves the named objects to the trash; POST /api/undelete
// brings the owner's objects back from the trash within the grace period.

export interface HolderDeleteDeps {
  home: Home;
  selfId: string;
  clock: () => number;
  /** Objects a grant held here needs: never trashed, even by their owner. */
  isPinned: (hash: string, owner: string) => boolean;
}

export interface DeleteAnswer {
  trashed: string[];
  refused: { hash: string; reason: 'not-owner' | 'shared' | 'put-after-request' }[];
  missing: string[];
}

export function registerDeleteRoutes(app: FastifyInstance, d: HolderDeleteDeps): void {
  const { home } = d;
  const db = home.db;

  app.post('/api/delete', { bodyLimit: MAX_DELETE_JSON_BYTES }, async (req): Promise<DeleteAnswer> => {
    const now = d.clock();
    const r = parseDeleteRequest(req.body, req.peer!, d.selfId, now);
    // Claim the sequence number before any await, so a concurrent replay is refused too.
    const fresh = db.transaction(() => {
      const last = db.prepare('SELECT last_seq FROM delete_seen WHERE owner = ?').pluck().get(r.owner) as number | undefined;
      if (last !== undefined && r.seq <= last) return false;
      db.prepare(`INSERT INTO delete_seen(owner, last_seq, at) VALUES (?, ?, ?)
        ON CONFLICT(owner) DO UPDATE SET last_seq = excluded.last_seq, at = excluded.at`).run(r.owner, r.seq, now);
      return true;
    }).immediate();
    if (!fresh) throw new GroveError('CONFLICT', 'delete request replayed (its sequence number was already used)');
    const out: DeleteAnswer = { trashed: [], refused: [], missing: [] };
    for (const hash of r.objects) {
      const row = getObject(db, hash);
      if (!row || row.present !== 1) {
        if (trashRow(home, hash)?.owner === r.owner) out.trashed.push(hash);
        else out.missing.push(hash);
        continue;
      }
      // Per-owner references (docs/design.md §3 "Holders"): the request covers the owner's
      // reference only; the bytes go to the trash when it was the last one, and stay (for the
      // other owners) otherwise.
      const since = refAddedAt(db, hash, r.owner);
      if (since === undefined) out.refused.push({ hash, reason: 'not-owner' });
      else if (d.isPinned(hash, r.owner)) out.refused.push({ hash, reason: 'shared' });
      else if (since > r.created_at) out.refused.push({ hash, reason: 'put-after-request' });
      else {
        // The owner's reference goes now; the bytes go to the trash if it was the last one.
        if (db.transaction(() => dropRef(db, hash, r.owner))() === 0) await moveToTrash(home, hash, now, r.owner);
        out.trashed.push(hash);
      }
    }
    // The owner's quota bounds its trash here too (collected oldest first beyond it).
    const q = home.config.quota;
    await trimOwnerTrash(home, r.owner, q.per_owner[r.owner] ?? q.default_bytes);
    return out;
  });

  app.post('/api/undelete', async (req) => {
    const hashes = (req.body as { hashes?: unknown } | undefined)?.hashes;
    if (!Array.isArray(hashes) || hashes.length > MAX_DELETE_OBJECTS || !hashes.every(isHash)) {
      throw badInput(`hashes must be a list of at most ${MAX_DELETE_OBJECTS} object hashes`);
    }
    const restored: string[] = [];
    const missing: string[] = [];
    for (const hash of hashes as string[]) {
      const t = trashRow(home, hash);
      if (t && t.owner === req.peer && (await restoreFromTrash(home, hash, d.clock()))) restored.push(hash);
      else if (getObject(db, hash)?.present === 1 && (hasRef(db, hash, req.peer!) || hadRef(db, hash, req.peer!))) {
        // Still here for another owner: the caller's reference comes back.
        const row = getObject(db, hash)!;
        recordObject(db, { hash, size: row.size, kind: row.kind, owner: req.peer! }, d.clock());
        restored.push(hash);
      }
      else missing.push(hash);
    }
    return { restored, missing };
  });
}
