import { isHash } from '../crypto/encoding.js';
import { GroveError, badInput, tooLarge } from '../errors.js';

// The body of a batch upload, `POST /api/objects/batch` (docs/protocol.md "Batch uploads"):
//
//   body  = MAGIC frame*            MAGIC = the 8 ASCII bytes "grvbat01"
//   frame = hash[32] kind[1] length[4, u32 big-endian] bytes[length]
//
// `hash` is the raw SHA-256 the object's bytes must have; `kind` 0 chunk, 1 manifest, 2 index.
// The body ends after the last frame (no count, no trailer): its length is the HTTP body's.
// Everything here is pure: the holder feeds the parser what arrives, the sender encodes
// frame heads and writes each object's bytes after its head.

export const BATCH_PATH = '/api/objects/batch';
export const BATCH_MAGIC = Buffer.from('grvbat01', 'ascii');
export const FRAME_HEAD_BYTES = 32 + 1 + 4;

export const BATCH_KINDS = ['chunk', 'manifest', 'index'] as const;
export type BatchKind = (typeof BATCH_KINDS)[number];

/**
 * Batch downloads, `GET /api/objects?hashes=…` (docs/protocol.md "Batch downloads"): the
 * response body has the same framing. At most this many hashes per request.
 */
export const FETCH_PATH = '/api/objects';
export const MAX_FETCH_OBJECTS = 128;

/** The holder's bounds: most objects in one batch (one more is 413 for the whole request). */
export const MAX_BATCH_OBJECTS = 1024;
/** Most body bytes of one batch, magic and frame heads included (past it: 413). */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;

export interface BatchLimits {
  /** Most frames in one body; one more is TOO_LARGE for the whole request. */
  maxObjects: number;
  /** Most body bytes, magic and frame heads included; past it is TOO_LARGE for the whole request. */
  maxBodyBytes: number;
}

/** The head of one frame: what follows is `length` bytes that must hash to `hash`. */
export function encodeFrameHead(hash: string, kind: BatchKind, length: number): Buffer {
  if (!isHash(hash)) throw new GroveError('INTERNAL', 'frame hash must be 64 lowercase hex');
  if (!Number.isInteger(length) || length < 0 || length > 0xffffffff) throw new GroveError('INTERNAL', 'frame length out of range');
  const head = Buffer.allocUnsafe(FRAME_HEAD_BYTES);
  head.write(hash, 0, 32, 'hex');
  head[32] = BATCH_KINDS.indexOf(kind);
  head.writeUInt32BE(length, 33);
  return head;
}

/** Bytes of a body carrying objects of these sizes. */
export function batchBodyBytes(sizes: readonly number[]): number {
  return sizes.reduce((n, s) => n + FRAME_HEAD_BYTES + s, BATCH_MAGIC.length);
}

/** A frame head as parsed: `kind` is undefined for an unknown kind code (that object alone is refused). */
export interface FrameHead {
  index: number;
  hash: string;
  kind: BatchKind | undefined;
  length: number;
}

/** What the parser found in the bytes pushed so far, in order. */
export type BatchEvent =
  | { type: 'head'; head: FrameHead }
  /** Bytes of the current object (a view into the pushed buffer: copy it to keep it past the next push). */
  | { type: 'data'; bytes: Buffer }
  | { type: 'end' };

/**
 * Incremental parser of a batch body. `push` takes the next piece of the body and returns
 * what it completed; `end` says the body is over. Malformed framing is BAD_INPUT (the frame
 * boundaries are lost, so nothing after it can be trusted); past a bound it is TOO_LARGE.
 * Both end the request: the holder stores nothing of it. An object whose stated length is
 * above the per-object limit is not a framing error: its bytes still arrive as `data`, and the
 * holder refuses that object alone.
 */
export class BatchParser {
  private seen = 0;
  private state: 'magic' | 'head' | 'body' = 'magic';
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  private left = 0;
  private objects = 0;

  constructor(private readonly limits: BatchLimits) {}

  /** Body bytes taken so far. */
  get bytes(): number {
    return this.seen;
  }

  push(piece: Buffer): BatchEvent[] {
    this.seen += piece.length;
    if (this.seen > this.limits.maxBodyBytes) throw tooLarge(`batch body over ${this.limits.maxBodyBytes} bytes`);
    const out: BatchEvent[] = [];
    let off = 0;
    while (off < piece.length) {
      if (this.state === 'body') {
        const n = Math.min(this.left, piece.length - off);
        out.push({ type: 'data', bytes: piece.subarray(off, off + n) });
        off += n;
        this.left -= n;
        if (this.left === 0) this.endObject(out);
        continue;
      }
      const want = this.state === 'magic' ? BATCH_MAGIC.length : FRAME_HEAD_BYTES;
      const n = Math.min(want - this.pendingBytes, piece.length - off);
      this.pending.push(piece.subarray(off, off + n));
      this.pendingBytes += n;
      off += n;
      if (this.pendingBytes < want) break;
      const whole = Buffer.concat(this.pending, want);
      this.pending.length = 0;
      this.pendingBytes = 0;
      if (this.state === 'magic') {
        if (!whole.equals(BATCH_MAGIC)) throw badInput('not a batch body (bad magic)');
        this.state = 'head';
        continue;
      }
      if (this.objects >= this.limits.maxObjects) throw tooLarge(`more than ${this.limits.maxObjects} objects in one batch`);
      const code = whole[32]!;
      const head: FrameHead = {
        index: this.objects++,
        hash: whole.toString('hex', 0, 32),
        kind: BATCH_KINDS[code],
        length: whole.readUInt32BE(33),
      };
      out.push({ type: 'head', head });
      this.left = head.length;
      if (head.length === 0) this.endObject(out);
      else this.state = 'body';
    }
    return out;
  }

  /** The body is over: it must end on a frame boundary (after the magic at least). */
  end(): void {
    if (this.state === 'magic') throw badInput('not a batch body (too short)');
    if (this.state === 'body' || this.pendingBytes > 0) throw badInput('batch body ends inside a frame');
  }

  private endObject(out: BatchEvent[]): void {
    out.push({ type: 'end' });
    this.state = 'head';
  }
}

/** The holder's answer for one frame, in frame order. */
export type BatchResult =
  | { hash: string; stored: true; size: number }
  | { hash: string; stored: false; error: string; message: string };

const REFUSAL_CODES = new Set(['BAD_INPUT', 'TOO_LARGE', 'QUOTA_EXCEEDED', 'DISK_FULL', 'CONFLICT', 'INTERNAL']);

/**
 * Checks a holder's 200 answer against the frames sent: exactly one result per frame, in
 * order, naming its hash. Anything else is PEER_ERROR, and then no result is trusted.
 */
export function parseBatchResults(data: unknown, sent: readonly { hash: string; size: number }[]): BatchResult[] {
  const bad = () => new GroveError('PEER_ERROR', 'malformed batch answer');
  const results = (data as { results?: unknown } | undefined)?.results;
  if (!Array.isArray(results) || results.length !== sent.length) throw bad();
  return results.map((r: unknown, i): BatchResult => {
    const o = r as Record<string, unknown> | null;
    if (!o || typeof o !== 'object' || o.hash !== sent[i]!.hash) throw bad();
    if (o.stored === true) {
      if (o.size !== sent[i]!.size) throw bad();
      return { hash: sent[i]!.hash, stored: true, size: sent[i]!.size };
    }
    if (o.stored !== false || typeof o.error !== 'string') throw bad();
    return {
      hash: sent[i]!.hash, stored: false,
      error: REFUSAL_CODES.has(o.error) ? o.error : 'INTERNAL',
      message: typeof o.message === 'string' ? o.message.slice(0, 200) : '',
    };
  });
}
