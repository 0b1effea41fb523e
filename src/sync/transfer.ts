import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { PeerClient } from '../net/client.js';
import type { ObjectStore } from '../store/objects.js';
import { MAX_OBJECT_BYTES } from '../store/objects.js';
import type { ObjectKind } from '../store/catalog.js';
import { GroveError } from '../errors.js';
import {
  BATCH_MAGIC, BATCH_PATH, BatchParser, FETCH_PATH, FRAME_HEAD_BYTES, MAX_BATCH_BYTES, encodeFrameHead, parseBatchResults, type BatchKind, type BatchResult,
} from '../formats/batch.js';
import { StagedBatch } from '../store/batch.js';

// Moving objects between cells over the signed protocol. Every byte received is checked
// against the object's hash before it is stored (ObjectStore.putStream), so a transfer cut
// mid-way leaves nothing behind and simply happens again next round.

export type { Route } from '../peers/link.js';
import type { Route } from '../peers/link.js';

/**
 * Uploads one local object to a peer. Resolves with bytes sent once the holder confirmed.
 * The bytes are checked once, by the holder, against the hash they are sent under (hashing
 * here too cost a third of the sender's CPU in bench:sync). If the holder finds them wrong,
 * our copy is corrupt: that is reported as CORRUPT so the caller repairs it.
 */
export async function pushObject(client: PeerClient, route: Route, objects: ObjectStore, hash: string, kind: ObjectKind, signal?: AbortSignal): Promise<number> {
  const buf = sendBuffers.pop() ?? Buffer.allocUnsafeSlow(SEND_BUFFER_BYTES);
  // Reusable while no request holds it, and after one that handed its body over in full (not
  // merely one the holder answered: a holder may answer early). A request that failed may
  // still hold it in a socket being torn down: that buffer is left to the GC.
  let free = true;
  try {
    const n = await objects.readInto(hash, buf);
    const data = n === undefined ? await objects.readUnverified(hash) : buf.subarray(0, n);
    free = false;
    try {
      const r = await client.call<{ stored?: boolean; hash?: string }>(route.url, route.peerId, 'PUT', `/api/objects/${hash}?kind=${kind}`, {
        body: data, bodySha256: hash, signal, timeoutMs: 120_000,
      });
      free = r.bodySent;
      if (r.data?.hash !== undefined && r.data.hash !== hash) throw new GroveError('PEER_ERROR', 'holder confirmed another object');
    } catch (e) {
      if (e instanceof GroveError && e.detail?.status === 400 && (await objects.check(hash)) === 'corrupt') {
        throw new GroveError('CORRUPT', `local object ${hash} is corrupt`, { hash });
      }
      throw e;
    }
    return data.length;
  } finally {
    if (free && sendBuffers.length < SEND_BUFFERS_KEPT) sendBuffers.push(buf);
  }
}

/**
 * Buffers an upload reads its object into, kept between uploads: a round of large objects
 * otherwise allocates 4 MiB per object and leaves each to the GC, which in bench:sync kept
 * the sender's memory ~100 MB above what was in flight, and cost a tenth of its CPU in GC.
 */
const SEND_BUFFER_BYTES = MAX_OBJECT_BYTES;
const SEND_BUFFERS_KEPT = 8;
const sendBuffers: Buffer[] = [];

/** What a batch upload came to: the holder's answer per object sent, and what could not be sent. */
export interface BatchOutcome {
  /** One per object sent, in order (stored, or refused with the holder's reason). */
  results: BatchResult[];
  /** Objects left out because our own copy could not be read (missing here). */
  unreadable: { hash: string; error: unknown }[];
  bytesSent: number;
}

/**
 * Uploads many local objects to a peer in one signed request (`POST /api/objects/batch`).
 * The signature covers the SHA-256 of the whole body, which must be known before the first
 * byte is sent, so the objects are read twice: once to hash the body, once to stream it
 * (the second read comes from the page cache). Only one object is in memory at a time.
 * A holder without the endpoint answers 404 (PEER_ERROR, detail.status 404; see
 * `acceptsBatches`).
 */
export async function pushBatch(client: Pick<PeerClient, 'call'>, route: Route, objects: ObjectStore, items: readonly { hash: string; kind: BatchKind }[], signal?: AbortSignal): Promise<BatchOutcome> {
  const body = createHash('sha256').update(BATCH_MAGIC);
  const sent: { hash: string; kind: BatchKind; size: number }[] = [];
  const unreadable: BatchOutcome['unreadable'] = [];
  let bytes = BATCH_MAGIC.length;
  for await (const { item, data, error } of objects.readEach(items, READ_AHEAD, signal)) {
    if (!data) {
      unreadable.push({ hash: item.hash, error });
      continue;
    }
    body.update(encodeFrameHead(item.hash, item.kind, data.length)).update(data);
    sent.push({ ...item, size: data.length });
    bytes += FRAME_HEAD_BYTES + data.length;
  }
  if (!sent.length) return { results: [], unreadable, bytesSent: 0 };
  const bodySha256 = body.digest('hex');
  async function* frames(): AsyncGenerator<Buffer> {
    yield BATCH_MAGIC;
    for await (const { item, data, error } of objects.readEach(sent, READ_AHEAD, signal)) {
      if (!data) throw error;
      // Changed since it was hashed (a repair replaced it): the holder would refuse the whole
      // body, so stop now; the next round sends it again.
      if (data.length !== item.size) throw new GroveError('CONFLICT', `local object ${item.hash} changed while being sent`);
      yield encodeFrameHead(item.hash, item.kind, data.length);
      yield data;
    }
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await client.call(route.url, route.peerId, 'POST', BATCH_PATH, {
        body: Readable.from(frames(), { objectMode: false }), bodySha256, signal, timeoutMs: 120_000,
      });
      return { results: parseBatchResults(r.data, sent), unreadable, bytesSent: bytes };
    } catch (e) {
      // A kept-alive connection the holder had closed: the client retries only bodies it can
      // replay, so a streamed one is retried here, once, on a new connection.
      if (attempt === 0 && isStaleConnection(e) && !signal?.aborted) continue;
      throw e;
    }
  }
}

/**
 * Whether a holder takes batch uploads: an empty batch (the magic alone) is answered 200 with
 * no results by one that does, 404 by an older cell. Any other failure is thrown.
 */
export async function acceptsBatches(client: Pick<PeerClient, 'call'>, route: Route, signal?: AbortSignal): Promise<boolean> {
  try {
    const r = await client.call(route.url, route.peerId, 'POST', BATCH_PATH, { body: BATCH_MAGIC, signal });
    parseBatchResults(r.data, []);
    return true;
  } catch (e) {
    if (e instanceof GroveError && e.code === 'PEER_ERROR' && e.detail?.status === 404) return false;
    throw e;
  }
}

/** Objects read at once while a batch is hashed or sent: file latency overlaps, memory stays small. */
const READ_AHEAD = 8;

function isStaleConnection(e: unknown): boolean {
  if (!(e instanceof GroveError) || e.code !== 'UNREACHABLE') return false;
  const code = (e.cause as { code?: unknown } | undefined)?.code;
  return code === 'ECONNRESET' || code === 'EPIPE';
}

/**
 * Downloads many objects from one holder in one signed response (`GET /api/objects?hashes=…`)
 * into the local store: each object checked against its hash as it arrives and staged, the
 * whole body checked against its signed hash, then one durability barrier for all. Returns
 * the objects now durable here (the holder leaves out what it lacks or may not give us; those
 * are fetched one by one). A body that does not match its signature, or an object that was
 * not asked for or does not match its hash, stores nothing (PEER_ERROR). A holder without
 * batches answers 404.
 */
export async function pullBatch(client: Pick<PeerClient, 'download'>, route: Route, objects: ObjectStore, hashes: readonly string[], signal?: AbortSignal): Promise<{ hash: string; size: number }[]> {
  const path = `${FETCH_PATH}?hashes=${hashes.join('')}`;
  const { result } = await client.download(route.url, route.peerId, path, async (body, expected) => {
    const wanted = new Set(hashes);
    const parser = new BatchParser({ maxObjects: hashes.length, maxBodyBytes: MAX_BATCH_BYTES });
    const whole = createHash('sha256');
    const stage = new StagedBatch(objects);
    const got: { hash: string; size: number }[] = [];
    let cur: { hash: string; h: Hash; pieces: Buffer[]; size: number } | undefined;
    try {
      for await (const piece of body) {
        const buf = piece as Buffer;
        whole.update(buf);
        for (const ev of parser.push(buf)) {
          if (ev.type === 'head') {
            if (!wanted.delete(ev.head.hash) || ev.head.length > MAX_OBJECT_BYTES) throw new GroveError('PEER_ERROR', 'holder sent an object that was not asked for');
            cur = { hash: ev.head.hash, h: createHash('sha256'), pieces: [], size: 0 };
          } else if (ev.type === 'data') {
            cur!.h.update(ev.bytes);
            cur!.pieces.push(ev.bytes);
            cur!.size += ev.bytes.length;
          } else {
            if (cur!.h.digest('hex') !== cur!.hash) throw new GroveError('PEER_ERROR', 'holder sent bytes that do not match their hash');
            await stage.write(cur!.hash, cur!.pieces, cur!.size);
            got.push({ hash: cur!.hash, size: cur!.size });
          }
        }
      }
      parser.end();
      if (whole.digest('hex') !== expected) throw new GroveError('PEER_ERROR', 'response body does not match its signature');
    } catch (e) {
      await stage.abort();
      if (e instanceof GroveError && e.code === 'PEER_ERROR') throw e;
      if (e instanceof GroveError) throw new GroveError('PEER_ERROR', `malformed batch from the holder: ${e.message}`);
      throw new GroveError('UNREACHABLE', 'connection lost while receiving a batch', undefined, { cause: e });
    }
    const committed = await stage.commit();
    return got.filter((g) => committed.get(g.hash)?.ok);
  }, { signal, timeoutMs: 120_000 });
  return result;
}

/** Downloads one object from a peer into the local store (hash-checked). Returns its size. */
export async function pullObject(client: PeerClient, route: Route, objects: ObjectStore, hash: string, signal?: AbortSignal): Promise<number> {
  const { result } = await client.download(route.url, route.peerId, `/api/objects/${hash}`, async (body, expected) => {
    if (expected !== hash) throw new Error('peer sent another object');
    return objects.putStream(hash, body, MAX_OBJECT_BYTES);
  }, { signal, timeoutMs: 120_000 });
  return result.size;
}

/** Asks a holder to drop copies of our objects. Returns the hashes it released. */
export async function releaseObjects(client: PeerClient, route: Route, hashes: string[], signal?: AbortSignal): Promise<string[]> {
  const released: string[] = [];
  for (let i = 0; i < hashes.length; i += 1000) {
    const r = await client.call<{ released: string[] }>(route.url, route.peerId, 'POST', '/api/release', {
      json: { hashes: hashes.slice(i, i + 1000) }, signal,
    });
    released.push(...(Array.isArray(r.data?.released) ? r.data.released : []));
  }
  return released;
}

/**
 * Runs `fn` over `items` with at most `limit` in flight. Items appended to the array while
 * it runs are taken too, by the workers still running.
 */
export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
