import type { FastifyInstance } from 'fastify';
import type { HolderContext } from '../peers/context.js';
import { H } from '../net/signing.js';
import { bodyStream, checkContentLength } from '../net/server.js';
import { MAX_OBJECT_BYTES } from '../store/objects.js';
import { committedAnyway } from '../store/db.js';
import { hasRef, type ObjectKind } from '../store/catalog.js';
import { grantedObject } from '../share/sent.js';
import { heldForCreator } from '../share/received.js';
import { isHash } from '../crypto/encoding.js';
import { GroveError, badInput, notFound } from '../errors.js';
import { asDiskFull } from '../guard/disk.js';
import { ownKind, type Admission, type UploadGate } from './uploads.js';

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
 * Whether `caller` may download `hash` from this cell: its owner may; a recipient of a live
 * grant of ours may fetch that file's manifest and chunks; the creator of a grant we hold may
 * fetch what we keep for it. Anyone else gets the same 404 as for a missing object, so a
 * paired peer can neither read nor probe for other owners' objects by hash.
 */
export function maySee(db: HolderContext['home']['db'], hash: string, caller: string, selfId: string): boolean {
  if (hasRef(db, hash, caller)) return true;
  if (hasRef(db, hash, selfId) || ownKind(db, hash, selfId)) {
    if (grantedObject(db, hash, caller)) return true;
  }
  return heldForCreator(db, hash, caller);
}

export function registerObjects(app: FastifyInstance, ctx: HolderContext, uploads: UploadGate): void {
  const { objects, db } = ctx.home;

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
    const done = uploads.open(owner);
    let a: Admission | undefined;
    let stored: { size: number; written: boolean };
    try {
      const declared = Number(req.headers['content-length'] ?? NaN);
      a = uploads.admit(owner, hash, Number.isFinite(declared) ? declared : undefined);
      try {
        stored = await objects.putStream(hash, bodyStream(req), a.max);
      } catch (e) {
        // An undeclared length that runs past the remaining quota or room (but not the object limit).
        if (e instanceof GroveError && e.code === 'TOO_LARGE') throw uploads.overLimit(a);
        throw e;
      }
      try {
        await uploads.record([{ a, size: stored.size, kind }]);
      } catch (e) {
        // Not recorded, so not kept: an unrecorded object would never be counted or released.
        if (stored.written && !a.present && !committedAnyway(e)) await objects.remove(hash).catch(() => {});
        throw asDiskFull(e);
      }
    } finally {
      if (a) uploads.release(a);
      done();
    }
    ctx.events.emit('object-stored', { hash, size: stored.size, kind: a.own ?? kind, owner: a.own ? ctx.id : owner, written: stored.written });
    return { stored: true, hash, size: stored.size };
  });
}
