import type { FastifyInstance } from 'fastify';
import { createHash, type Hash } from 'node:crypto';
import type { HolderContext } from '../peers/context.js';
import { bodyStream, checkContentLength } from '../net/server.js';
import { MAX_OBJECT_BYTES } from '../store/objects.js';
import { committedAnyway } from '../store/db.js';
import { StagedBatch } from '../store/batch.js';
import type { ObjectKind } from '../store/catalog.js';
import { BATCH_PATH, BatchParser, MAX_BATCH_BYTES, MAX_BATCH_OBJECTS, type BatchResult, type FrameHead } from '../formats/batch.js';
import { GroveError, badInput, unauthenticated } from '../errors.js';
import { asDiskFull, diskFull } from '../guard/disk.js';
import { BATCH_UPLOAD_WEIGHT, type Admission, type UploadGate } from './uploads.js';

// POST /api/objects/batch (docs/protocol.md "Batch uploads"): many objects in one signed,
// streamed request. Each object is admitted (quota, room) from its frame head, hash-checked
// as its bytes arrive and staged to a temp file; once the whole body has arrived and matches
// its signed hash, one durability barrier covers them all, one transaction records them, and
// the answer says per object: stored, or refused and why. A bad object is refused alone.

/** One frame as the holder follows it. */
interface Frame {
  head: FrameHead;
  refusal?: GroveError;
  a?: Admission;
  hash?: Hash;
  /** Bytes kept for the temp file (none when the object is already here). */
  pieces: Buffer[];
  size: number;
  write: boolean;
}

export function registerBatch(app: FastifyInstance, ctx: HolderContext, uploads: UploadGate): void {
  const { objects } = ctx.home;

  app.post(BATCH_PATH, async (req) => {
    checkContentLength(req, MAX_BATCH_BYTES);
    const owner = req.peer!;
    const signedBody = req.signed!.bodySha256;
    const done = uploads.open(owner, BATCH_UPLOAD_WEIGHT);
    const frames: Frame[] = [];
    const stage = new StagedBatch(objects);
    try {
      // No room at all above the reserve: nothing new could be stored, so nothing is read.
      if (uploads.room() <= 0) throw diskFull();
      const parser = new BatchParser({ maxObjects: MAX_BATCH_OBJECTS, maxBodyBytes: MAX_BATCH_BYTES });
      const whole = createHash('sha256');
      const seen = new Set<string>();
      let cur: Frame | undefined;

      const start = (head: FrameHead): Frame => {
        const f: Frame = { head, pieces: [], size: 0, write: false };
        ctx.events.emit('upload-request', { hash: head.hash, owner });
        if (head.kind === undefined) f.refusal = badInput('unknown object kind');
        else if (head.length > MAX_OBJECT_BYTES) f.refusal = new GroveError('TOO_LARGE', 'object too large');
        else if (seen.has(head.hash)) f.refusal = badInput('object repeated in this batch');
        else {
          try {
            f.a = uploads.admit(owner, head.hash, head.length);
            f.hash = createHash('sha256');
            f.write = !f.a.present || !objects.has(head.hash);
          } catch (e) {
            if (!(e instanceof GroveError)) throw e;
            f.refusal = e;
          }
        }
        seen.add(head.hash);
        frames.push(f);
        return f;
      };
      const refuse = (f: Frame, e: GroveError) => {
        f.refusal = e;
        f.pieces = [];
        if (f.a) uploads.release(f.a);
        f.a = undefined;
      };
      const finish = async (f: Frame) => {
        if (!f.a) return;
        if (f.hash!.digest('hex') !== f.head.hash) return refuse(f, badInput('object does not match its hash'));
        if (f.write) {
          try {
            await stage.write(f.head.hash, f.pieces, f.size);
          } catch (e) {
            const g = asDiskFull(e);
            refuse(f, g instanceof GroveError ? g : new GroveError('INTERNAL', 'could not store the object'));
          }
        }
        f.pieces = [];
      };

      for await (const piece of bodyStream(req)) {
        const buf = piece as Buffer;
        whole.update(buf);
        for (const ev of parser.push(buf)) {
          if (ev.type === 'head') cur = start(ev.head);
          else if (ev.type === 'data') {
            if (!cur!.a) continue; // refused: its bytes are only skipped (they count in the body hash)
            cur!.hash!.update(ev.bytes);
            cur!.size += ev.bytes.length;
            if (cur!.write) cur!.pieces.push(ev.bytes);
          } else await finish(cur!);
        }
      }
      parser.end();
      // Nothing is confirmed unless the body is the one the caller signed.
      if (whole.digest('hex') !== signedBody) throw unauthenticated('body does not match its signed hash');

      const committed = await stage.commit();
      const accepted: Frame[] = [];
      for (const f of frames) {
        if (!f.a) continue;
        const c = f.write ? committed.get(f.head.hash) : { ok: true as const, written: false };
        if (c && !c.ok) refuse(f, c.error);
        else accepted.push(f);
      }
      let kinds: ObjectKind[];
      try {
        kinds = await uploads.record(accepted.map((f) => ({ a: f.a!, size: f.size, kind: f.head.kind! })));
      } catch (e) {
        // Not recorded, so not kept: an unrecorded object would never be counted or released.
        if (!committedAnyway(e)) await stage.unpublish(accepted.map((f) => f.head.hash));
        throw asDiskFull(e);
      }
      const results: BatchResult[] = frames.map((f) => (f.a
        ? { hash: f.head.hash, stored: true, size: f.size }
        : { hash: f.head.hash, stored: false, error: f.refusal!.code, message: f.refusal!.message }));
      accepted.forEach((f, i) => {
        const c = committed.get(f.head.hash);
        const written = f.write && c !== undefined && c.ok && c.written;
        ctx.events.emit('object-stored', { hash: f.head.hash, size: f.size, kind: kinds[i]!, owner: f.a!.own ? ctx.id : owner, written });
      });
      return { results };
    } catch (e) {
      await stage.abort();
      throw e;
    } finally {
      for (const f of frames) if (f.a) uploads.release(f.a);
      done();
    }
  });
}
