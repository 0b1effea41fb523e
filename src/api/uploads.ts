import { durably } from '../store/db.js';
import type { HolderContext } from '../peers/context.js';
import { MAX_OBJECT_BYTES } from '../store/objects.js';
import { getObject, objectLookups, recordObjects, type ObjectKind, type ObjectLookups } from '../store/catalog.js';
import { isOwnChunk, isOwnManifest, ownFileLookups } from '../ingest/files.js';
import { GroveError } from '../errors.js';
import { diskFull, diskSpaceSync, uploadRoom } from '../guard/disk.js';

// What every upload from a peer must pass, single (`PUT /api/objects/{hash}`) or batched
// (`POST /api/objects/batch`), in one place: the cap on uploads in flight per peer, the free
// space above the reserve, the owner's quota, the reservations that keep concurrent uploads
// from running past either, and how a stored object is recorded (docs/protocol.md).

/**
 * Uploads one peer may have in flight at once. Each buffers at most one object
 * (≤ MAX_OBJECT_BYTES) until its hash is checked, so this bounds the memory a peer can pin; a
 * batch holds up to twice that (one object arriving, MAX_PENDING_BYTES being written) and
 * counts as two (BATCH_UPLOAD_WEIGHT). Senders use 4 at once (PUSH_CONCURRENCY).
 */
export const MAX_PUTS_IN_FLIGHT_PER_PEER = 16;
export const BATCH_UPLOAD_WEIGHT = 2;

/** How one object may be taken from one owner, decided before its bytes are read. */
export interface Admission {
  hash: string;
  owner: string;
  /** The bytes are already here (recorded): nothing to write. */
  present: boolean;
  /** The owner already holds a reference: nothing to record or charge. */
  referenced: boolean;
  /** One of this cell's own objects (a peer sends back our copy): recorded as ours, never as the peer's. */
  own: ObjectKind | undefined;
  /** Most bytes the object may have. */
  max: number;
  /** `max` is the disk's room above the reserve (else the object limit or the quota). */
  byDisk: boolean;
  /** Bytes held against the owner's quota and the disk until `release`. */
  reserve: number;
}

export function quotaExceeded(): GroveError {
  return new GroveError('QUOTA_EXCEEDED', 'storage quota for your cell is used up on this cell');
}

export class UploadGate {
  // Per owner: uploads being received, and the bytes they may still add to its usage. Without
  // the reservation, parallel uploads would each see the same remaining quota and overrun it.
  private readonly inFlight = new Map<string, number>();
  private readonly reserved = new Map<string, number>();
  private reservedTotal = 0;
  private lookups?: ObjectLookups & ReturnType<typeof ownFileLookups>;

  constructor(private readonly ctx: HolderContext) {}

  /** Prepared once, on first use (the database is open for as long as the server runs). */
  private look(): ObjectLookups & ReturnType<typeof ownFileLookups> {
    return (this.lookups ??= { ...objectLookups(this.ctx.home.db), ...ownFileLookups(this.ctx.home.db) });
  }

  /**
   * Counts an upload in flight for `owner` (CONFLICT past the cap); call the result when it
   * ends. `weight`: how many single uploads' worth of memory it may hold (a batch: 2).
   */
  open(owner: string, weight = 1): () => void {
    if ((this.inFlight.get(owner) ?? 0) + weight > MAX_PUTS_IN_FLIGHT_PER_PEER) throw new GroveError('CONFLICT', 'too many uploads in flight from your cell; retry later');
    bump(this.inFlight, owner, weight);
    let open = true;
    return () => {
      if (open) bump(this.inFlight, owner, -weight);
      open = false;
    };
  }

  /** Room for new bytes: free space above the reserve, less what uploads under way may still write. */
  room(): number {
    // statfs synchronously (a few µs): with an await here, a refused small upload left its
    // kept-alive connection unusable for the client's next request (ECONNRESET, observed).
    return uploadRoom(diskSpaceSync(this.ctx.home.objects.dir), this.ctx.home.config.storage.reserve_bytes) - this.reservedTotal;
  }

  /**
   * Decides whether `owner` may upload `hash` of `declared` bytes (undefined: not declared,
   * then up to the limit) and reserves its bytes: DISK_FULL when the disk's room above the
   * reserve cannot take it, QUOTA_EXCEEDED when the owner's quota cannot (an object already
   * held costs nothing). The quota granted never exceeds the room. Pair with `release`.
   */
  admit(owner: string, hash: string, declared?: number): Admission {
    const look = this.look();
    const present = look.isPresent(hash);
    // The bytes may already be here for another owner: the caller still gets (and pays for)
    // its own reference, so "stored" always means the caller's reference is recorded.
    const referenced = present && look.hasRef(hash, owner);
    const own = present ? undefined : ownKindWith(look, hash, this.ctx.id);
    const a: Admission = { hash, owner, present, referenced, own, max: MAX_OBJECT_BYTES, byDisk: false, reserve: 0 };
    if (present && (referenced || own)) return a;
    const known = declared !== undefined && Number.isFinite(declared);
    if (!present) {
      const room = this.room();
      if (room <= 0 || (known && declared > room)) throw diskFull();
      if (room < a.max) { a.max = room; a.byDisk = true; }
    }
    if (!referenced && !own) {
      const q = this.ctx.home.config.quota;
      const remaining = (q.per_owner[owner] ?? q.default_bytes) - look.ownerUsage(owner) - (this.reserved.get(owner) ?? 0);
      if (remaining <= 0 || (known && declared > remaining)) throw quotaExceeded();
      if (remaining < a.max) { a.max = remaining; a.byDisk = false; }
    }
    a.reserve = known ? declared : a.max;
    bump(this.reserved, owner, a.reserve);
    this.reservedTotal += a.reserve;
    return a;
  }

  /** Gives back what `admit` reserved (once the object is recorded, its usage counts instead). */
  release(a: Admission): void {
    bump(this.reserved, a.owner, -a.reserve);
    this.reservedTotal -= a.reserve;
    a.reserve = 0;
  }

  /** An upload ran past `a.max` while streaming: the refusal it stands for. */
  overLimit(a: Admission): GroveError {
    if (a.max >= MAX_OBJECT_BYTES) return new GroveError('TOO_LARGE', 'object too large');
    return a.byDisk ? diskFull() : quotaExceeded();
  }

  /**
   * Records stored objects in one transaction: the owner's reference (charged to it), or, for
   * one of this cell's own objects, ours. Resolves, once the commit is durable, to the kind each
   * was recorded with. Rejects with nothing recorded (e.g. a full database), or, if only the
   * WAL's fsync failed, with the rows standing (`committedAnyway`).
   */
  record(items: readonly { a: Admission; size: number; kind: ObjectKind }[]): Promise<ObjectKind[]> {
    const { db } = this.ctx.home;
    const now = this.ctx.clock();
    return durably(db, () => {
      const rows: { hash: string; size: number; kind: ObjectKind; owner: string }[] = [];
      const kinds = items.map(({ a, size, kind }) => {
        if (a.own) {
          rows.push({ hash: a.hash, size, kind: a.own, owner: this.ctx.id });
          return a.own;
        }
        const k = this.look().getObject(a.hash)?.kind ?? kind;
        if (!a.referenced) rows.push({ hash: a.hash, size, kind: k, owner: a.owner });
        return k;
      });
      recordObjects(db, rows, now);
      return kinds;
    });
  }
}

function bump(m: Map<string, number>, k: string, n: number): void {
  const v = (m.get(k) ?? 0) + n;
  if (v === 0) m.delete(k);
  else m.set(k, v);
}

/**
 * The kind of one of this cell's own objects (a file of ours names it, or our catalog says it
 * is ours), else undefined. A peer that holds a copy of it may send it back while ours is
 * missing, but must not become its owner here: it could then release (delete) it.
 */
export function ownKind(db: HolderContext['home']['db'], hash: string, selfId: string): ObjectKind | undefined {
  return ownKindWith({ isOwnManifest: (h) => isOwnManifest(db, h), getObject: (h) => getObject(db, h), isOwnChunk: (h) => isOwnChunk(db, h) }, hash, selfId);
}

type OwnLookups = Pick<ObjectLookups, 'getObject'> & ReturnType<typeof ownFileLookups>;

function ownKindWith(look: OwnLookups, hash: string, selfId: string): ObjectKind | undefined {
  if (look.isOwnManifest(hash)) return 'manifest';
  const row = look.getObject(hash);
  if (row && row.owner === selfId) return row.kind;
  if (look.isOwnChunk(hash)) return 'chunk';
  return undefined;
}
