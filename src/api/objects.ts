import type { FastifyInstance } from 'fastify';
import type { HolderContext } from '../peers/context.js';
import { H } from '../net/signing.js';
import { bodyStream, checkContentLength } from '../net/server.js';
import { MAX_OBJECT_BYTES } from '../store/objects.js';
import { getObject, hasRef, isPresent, ownerUsage, recordObject, type ObjectKind } from '../store/catalog.js';
import { isOwnChunk, isOwnManifest } from '../ingest/files.js';
import { grantedObject } from '../share/sent.js';
import { heldForCreator } from '../share/received.js';
import { isHash } from '../crypto/encoding.js';
import { GroveError, badInput, notFound } from '../errors.js';
import { asDiskFull, diskFull, diskSpaceSync, uploadRoom } from '../guard/disk.js';

// GET/PUT /api/objects/{hash} (docs/design.md §3: chunk get/put, streamed, hash-checked on receipt,
// quota per owner). Objects are named by the SHA-256 of their bytes, so a download's signed
// body hash is the name itself and an upload's signed body hash must be the name.

const PUT_KINDS: readonly ObjectKind[] = ['chunk', 'manifest', 'index'];

function hashParam(params: unknown): string {
  const h = (params as { hash?: unknown } | undefined)?.hash;
  // Checked before anything touches the filesystem (ObjectStore.pathOf checks again).
  if (!isHash(h)) throw badInput('object hash must be 64 lowercase hex characters');
  return h;
}

function kindParam(query: unknown): ObjectKind {
  const k = (query as { kind?: unknown } | undefined)?.kind;
  if (k === undefined) return 'chunk';
  if (typeof k !== 'string' || !(PUT_KINDS as readonly string[]).includes(k)) throw badInput(`kind must be one of ${PUT_KINDS.join(', ')}`);
  return k as ObjectKind;
}

/**
 * The kind of one of this cell's own objects (a file of ours names it, or our catalog says it
 * is ours), else undefined. A peer that holds a copy of it may send it back while ours is
 * missing, but must not become its owner here: it could then release (delete) it.
 */
function ownKind(db: HolderContext['home']['db'], hash: string, selfId: string): ObjectKind | undefined {
  if (isOwnManifest(db, hash)) return 'manifest';
  const row = getObject(db, hash);
  if (row && row.owner === selfId) return row.kind;
  if (isOwnChunk(db, hash)) return 'chunk';
  return undefined;
}

/**
 * Whether `caller` may download `hash` from this cell: its owner may; a recipient of a live
 * grant of ours may fetch that file's manifest and chunks; the creator of a grant we hold may
 * fetch what we keep for it. Anyone else gets the same 404 as for a missing object, so a
 * paired peer can neither read nor probe for other owners' objects by hash.
 */
function maySee(db: HolderContext['home']['db'], hash: string, caller: string, selfId: string): boolean {
  if (hasRef(db, hash, caller)) return true;
  if (hasRef(db, hash, selfId) || ownKind(db, hash, selfId)) {
    if (grantedObject(db, hash, caller)) return true;
  }
  return heldForCreator(db, hash, caller);
}

function quotaExceeded(): GroveError {
  return new GroveError('QUOTA_EXCEEDED', 'storage quota for your cell is used up on this cell');
}

/**
 * Uploads one peer may have in flight at once. Each is buffered (≤ MAX_OBJECT_BYTES) until its
 * hash is checked, so this bounds the memory a peer can pin; senders use 4 (PUSH_CONCURRENCY).
 */
export const MAX_PUTS_IN_FLIGHT_PER_PEER = 16;

export function registerObjects(app: FastifyInstance, ctx: HolderContext): void {
  const { objects, db } = ctx.home;
  // Per owner: uploads being received, and the bytes they may still add to its usage. Without
  // the reservation, parallel uploads would each see the same remaining quota and overrun it.
  const inFlight = new Map<string, number>();
  const reserved = new Map<string, number>();
  let reservedTotal = 0;
  const add = (m: Map<string, number>, k: string, n: number) => {
    const v = (m.get(k) ?? 0) + n;
    if (v === 0) m.delete(k);
    else m.set(k, v);
  };

  app.get('/api/objects/:hash', async (req, reply) => {
    const hash = hashParam(req.params);
    if (!maySee(db, hash, req.peer!, ctx.id)) throw notFound('no such object', { hash });
    const state = await objects.check(hash);
    if (state === 'missing') throw notFound('no such object', { hash });
    if (state === 'corrupt') {
      ctx.log.warn({ hash }, 'local object is corrupt');
      ctx.events.emit('corrupt', hash);
      throw new GroveError('CORRUPT', 'object is corrupt on this cell', { hash });
    }
    reply.header(H.body, hash); // the onSend signer needs the hash of a streamed body up front
    reply.type('application/octet-stream');
    return reply.send(objects.createReadStream(hash));
  });

  app.put('/api/objects/:hash', async (req) => {
    const hash = hashParam(req.params);
    const kind = kindParam(req.query);
    checkContentLength(req, MAX_OBJECT_BYTES);
    if (req.signed?.bodySha256 !== hash) throw badInput('the signed body hash is not the object hash');
    const owner = req.peer!;
    ctx.events.emit('upload-request', { hash, owner });
    if ((inFlight.get(owner) ?? 0) >= MAX_PUTS_IN_FLIGHT_PER_PEER) throw new GroveError('CONFLICT', 'too many uploads in flight from your cell; retry later');
    const present = isPresent(db, hash);
    // The bytes may already be here for another owner: the caller still gets (and pays for)
    // its own reference, so "stored" always means the caller's reference is recorded.
    const referenced = present && hasRef(db, hash, owner);
    const own = present ? undefined : ownKind(db, hash, ctx.id);
    let max = MAX_OBJECT_BYTES;
    let reserve = 0;
    let byDisk = false;
    if (!present || (!referenced && !own)) {
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (!present) {
        // Free space above the reserve, less what uploads under way may still write: the quota
        // a peer is granted never exceeds it (a full disk is 507 DISK_FULL, not a 500).
        // statfs synchronously (a few µs): with an await here, a refused small upload left its
        // kept-alive connection unusable for the client's next request (ECONNRESET, observed).
        const room = uploadRoom(diskSpaceSync(objects.dir), ctx.home.config.storage.reserve_bytes) - reservedTotal;
        if (room <= 0 || (Number.isFinite(declared) && declared > room)) throw diskFull();
        if (room < max) { max = room; byDisk = true; }
      }
      if (!referenced && !own) {
        const q = ctx.home.config.quota;
        const remaining = (q.per_owner[owner] ?? q.default_bytes) - ownerUsage(db, owner) - (reserved.get(owner) ?? 0);
        if (remaining <= 0 || (Number.isFinite(declared) && declared > remaining)) throw quotaExceeded();
        if (remaining < max) { max = remaining; byDisk = false; }
      }
      reserve = Number.isFinite(declared) ? declared : max;
    }
    let stored: { size: number; written: boolean };
    add(inFlight, owner, 1);
    add(reserved, owner, reserve);
    reservedTotal += reserve;
    try {
      try {
        stored = await objects.putStream(hash, bodyStream(req), max);
      } catch (e) {
        // An undeclared length that runs past the remaining quota or room (but not the object limit).
        if (e instanceof GroveError && e.code === 'TOO_LARGE' && max < MAX_OBJECT_BYTES) throw byDisk ? diskFull() : quotaExceeded();
        throw e;
      }
      try {
        if (own) recordObject(db, { hash, size: stored.size, kind: own, owner: ctx.id }, ctx.clock());
        else if (!referenced) recordObject(db, { hash, size: stored.size, kind: getObject(db, hash)?.kind ?? kind, owner }, ctx.clock());
      } catch (e) {
        // Not recorded, so not kept: an unrecorded object would never be counted or released.
        if (stored.written && !present) await objects.remove(hash).catch(() => {});
        throw asDiskFull(e);
      }
    } finally {
      add(inFlight, owner, -1);
      add(reserved, owner, -reserve);
      reservedTotal -= reserve;
    }
    ctx.events.emit('object-stored', { hash, size: stored.size, kind: own ?? kind, owner: own ? ctx.id : owner, written: stored.written });
    return { stored: true, hash, size: stored.size };
  });
}
