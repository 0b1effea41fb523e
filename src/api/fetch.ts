import type { FastifyInstance } from 'fastify';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { HolderContext } from '../peers/context.js';
import { H } from '../net/signing.js';
import { getObject } from '../store/catalog.js';
import {
  BATCH_KINDS, BATCH_MAGIC, FETCH_PATH, FRAME_HEAD_BYTES, MAX_BATCH_BYTES, MAX_FETCH_OBJECTS, encodeFrameHead, type BatchKind,
} from '../formats/batch.js';
import { GroveError, badInput } from '../errors.js';
import { maySee } from './objects.js';

// GET /api/objects?hashes=… (docs/protocol.md "Batch downloads"): many objects in one signed
// response, in the batch framing. Each object is sent only to a caller entitled to it (the
// rules of GET /api/objects/{hash}), and only if this cell's copy is intact; the others are
// left out, and the caller fetches them elsewhere. The response is signed with the SHA-256 of
// its whole body, so the objects are read and checked once to hash it, then read again to
// send it; at most one is in memory at a time.

const HEX = /^(?:[0-9a-f]{64})+$/;

/** The requested hashes: 64 lowercase hex each, concatenated; 1 to MAX_FETCH_OBJECTS, no repeats. */
function hashesParam(query: unknown): string[] {
  const q = (query as { hashes?: unknown } | undefined)?.hashes;
  if (typeof q !== 'string' || q.length > 64 * MAX_FETCH_OBJECTS || !HEX.test(q)) {
    throw badInput(`hashes must be 1 to ${MAX_FETCH_OBJECTS} SHA-256 digests, 64 lowercase hex each, concatenated`);
  }
  const hashes = Array.from({ length: q.length / 64 }, (_, i) => q.slice(i * 64, i * 64 + 64));
  if (new Set(hashes).size !== hashes.length) throw badInput('a hash is repeated');
  return hashes;
}

export function registerFetch(app: FastifyInstance, ctx: HolderContext): void {
  const { objects, db } = ctx.home;

  app.get(FETCH_PATH, async (req, reply) => {
    const hashes = hashesParam(req.query);
    const caller = req.peer!;
    const body = createHash('sha256').update(BATCH_MAGIC);
    const sent: { hash: string; kind: BatchKind; size: number }[] = [];
    let bytes = BATCH_MAGIC.length;
    const allowed = hashes.filter((h) => maySee(db, h, caller, ctx.id)).map((hash) => ({ hash }));
    for await (const { item, data } of objects.readEach(allowed)) {
      if (!data) continue; // not here
      if (createHash('sha256').update(data).digest('hex') !== item.hash) {
        ctx.log.warn({ hash: item.hash }, 'local object is corrupt');
        ctx.events.emit('corrupt', item.hash);
        continue;
      }
      // The rest would pass the body bound: left out, the caller asks again.
      if (bytes + FRAME_HEAD_BYTES + data.length > MAX_BATCH_BYTES) break;
      const k = getObject(db, item.hash)?.kind;
      const kind: BatchKind = (BATCH_KINDS as readonly string[]).includes(k ?? '') ? (k as BatchKind) : 'chunk';
      body.update(encodeFrameHead(item.hash, kind, data.length)).update(data);
      sent.push({ hash: item.hash, kind, size: data.length });
      bytes += FRAME_HEAD_BYTES + data.length;
    }
    async function* frames(): AsyncGenerator<Buffer> {
      yield BATCH_MAGIC;
      for await (const { item, data } of objects.readEach(sent)) {
        // Gone or changed since it was hashed: the body can no longer match its signature, so
        // it is cut here and the caller (which checks it) fetches again.
        if (!data || data.length !== item.size) throw new GroveError('CONFLICT', 'object changed while being sent');
        yield encodeFrameHead(item.hash, item.kind, data.length);
        yield data;
      }
    }
    reply.header(H.body, body.digest('hex')); // the onSend signer needs the hash of a streamed body up front
    reply.header('content-length', bytes);
    reply.type('application/octet-stream');
    return reply.send(Readable.from(frames()));
  });
}
