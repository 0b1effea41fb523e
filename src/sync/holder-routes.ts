import { unlinkSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { DB } from '../store/db.js';
import type { ObjectStore } from '../store/objects.js';
import { dropRef, getObject, hasAnyRef, hasRef, recordRemoved } from '../store/catalog.js';
import { isHash } from '../crypto/encoding.js';
import { badInput, notFound, forbidden } from '../errors.js';
import { parseChallenge, storageProof } from './challenge.js';

// The holder side of replication (docs/protocol.md "Replication"): release copies when their owner asks, and
// keep each owner's latest recovery-index pointer so a rebuilt owner can find it.

export interface HolderDeps {
  db: DB;
  objects: ObjectStore;
  clock: () => number;
  /** Objects a grant held here needs, stored by that grant's creator: never released, even by it. */
  isPinned?: (hash: string, owner: string) => boolean;
}

export const MAX_RELEASE_BATCH = 1000;

export function registerHolderRoutes(app: FastifyInstance, deps: HolderDeps): void {
  const { db, objects } = deps;

  app.post('/api/release', async (req) => {
    const hashes = (req.body as { hashes?: unknown } | undefined)?.hashes;
    if (!Array.isArray(hashes) || hashes.length > MAX_RELEASE_BATCH || !hashes.every(isHash)) {
      throw badInput(`hashes must be a list of at most ${MAX_RELEASE_BATCH} object hashes`);
    }
    const released: string[] = [];
    const refused: string[] = [];
    for (const hash of hashes as string[]) {
      // A release drops only the caller's reference; the object goes when no reference is
      // left (another owner, or a share recipient's grant, may still need the same bytes).
      // What the caller holds no reference to is already released for it.
      if (!hasRef(db, hash, req.peer!)) {
        released.push(hash);
        continue;
      }
      if (deps.isPinned?.(hash, req.peer!)) {
        refused.push(hash);
        continue;
      }
      const left = db.transaction(() => {
        const n = dropRef(db, hash, req.peer!);
        if (n === 0) recordRemoved(db, hash);
        return n;
      })();
      // Unlinked in the same tick as the check: an upload by another owner that arrived
      // meanwhile keeps the bytes (its reference is present again).
      if (left === 0 && !hasAnyRef(db, hash)) {
        try {
          unlinkSync(objects.pathOf(hash));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
      released.push(hash);
    }
    return { released, refused };
  });

  // Proof of storage: for each named object the caller owns here, SHA-256(domain ‖ nonce ‖
  // bytes); null for what is not held for it (docs/protocol.md "Challenges").
  app.post('/api/challenge', { bodyLimit: 4096 }, async (req) => {
    const { nonce, hashes } = parseChallenge(req.body);
    const proofs: Record<string, string | null> = {};
    for (const hash of hashes) {
      const row = getObject(db, hash);
      if (!row || row.present !== 1 || !hasRef(db, hash, req.peer!)) {
        proofs[hash] = null;
        continue;
      }
      try {
        proofs[hash] = await storageProof(objects.pathOf(hash), nonce);
      } catch {
        proofs[hash] = null;
      }
    }
    return { proofs };
  });

  app.post('/api/index', async (req) => {
    const body = req.body as { hash?: unknown; created_at?: unknown } | undefined;
    if (!body || !isHash(body.hash) || !Number.isSafeInteger(body.created_at)) throw badInput('expected {hash, created_at}');
    const row = getObject(db, body.hash);
    if (!row || row.present !== 1) throw notFound('index object not held here; upload it first');
    if (!hasRef(db, body.hash, req.peer!) || row.kind !== 'index') throw forbidden('not your index object');
    db.prepare(`INSERT INTO index_pointers(owner, hash, created_at) VALUES (?, ?, ?)
      ON CONFLICT(owner) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at
      WHERE excluded.created_at >= index_pointers.created_at`).run(req.peer, body.hash, body.created_at);
    return { ok: true };
  });

  app.get('/api/index', async (req) => {
    const row = db.prepare('SELECT hash, created_at FROM index_pointers WHERE owner = ?').get(req.peer) as { hash: string; created_at: number } | undefined;
    if (!row) throw notFound('no index held for you');
    return row;
  });
}
