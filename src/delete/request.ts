import type { KeyObject } from 'node:crypto';
import { signObject, verifyObjectByCell } from '../crypto/sign.js';
import { isCellId, isHash } from '../crypto/encoding.js';
import { expectExactKeys, parseUint } from '../formats/strict.js';
import { badInput, forbidden, unauthenticated } from '../errors.js';

// The DeleteRequest (docs/delete.md): an owner's signed order to one holder to move some of
// the owner's objects to its trash. Bound to the holder (no use elsewhere), to a sequence
// number that only grows per owner (a replay is refused), and to its creation time (an object
// the holder received after it is not touched: a file added again later survives).
// Signed like every Grove object: Ed25519 over RFC 8785 canonical JSON without `signature`.

export const DELETE_TYPE = 'grove-delete-v1';
/** Objects in one request; an owner splits bigger deletes. */
export const MAX_DELETE_OBJECTS = 1000;
export const MAX_DELETE_JSON_BYTES = 2 * 1024 + MAX_DELETE_OBJECTS * 2 * 70;
/** How far in the future created_at may be (the protocol's clock tolerance). */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

export interface DeleteRequest {
  type: typeof DELETE_TYPE;
  owner: string;
  holder: string;
  seq: number;
  created_at: number;
  /** The manifests of the deleted file versions (each also in `objects` when it goes). */
  manifests: string[];
  /** The objects to move to the trash. */
  objects: string[];
  signature: string;
}

const KEYS = ['type', 'owner', 'holder', 'seq', 'created_at', 'manifests', 'objects', 'signature'] as const;

export function signDeleteRequest(identity: KeyObject, r: Omit<DeleteRequest, 'type' | 'signature'>): DeleteRequest {
  if (r.objects.length > MAX_DELETE_OBJECTS || r.manifests.length > MAX_DELETE_OBJECTS) throw badInput('too many objects in one delete request');
  return signObject(identity, { type: DELETE_TYPE, ...r }) as DeleteRequest;
}

function hashList(v: unknown, field: string): string[] {
  if (!Array.isArray(v) || v.length > MAX_DELETE_OBJECTS || !v.every(isHash)) throw badInput(`${field}: at most ${MAX_DELETE_OBJECTS} object hashes`);
  if (new Set(v).size !== v.length) throw badInput(`${field}: duplicate hashes`);
  return v as string[];
}

/**
 * Parses and checks a DeleteRequest received by `holder` from the cell `sender` (the signed
 * transport's caller). Malformed: BAD_INPUT; not the owner or not for us: FORBIDDEN; bad
 * signature or a creation time too far ahead: UNAUTHENTICATED. Replays are the caller's
 * check (it keeps the last sequence number).
 */
export function parseDeleteRequest(body: unknown, sender: string, holder: string, now: number): DeleteRequest {
  const o = expectExactKeys(body, KEYS, 'delete request');
  if (o.type !== DELETE_TYPE) throw badInput('delete request: unknown type');
  if (!isCellId(o.owner) || !isCellId(o.holder)) throw badInput('delete request: owner and holder must be cell IDs');
  const seq = parseUint(o.seq, 'seq');
  const createdAt = parseUint(o.created_at, 'created_at');
  const manifests = hashList(o.manifests, 'manifests');
  const objects = hashList(o.objects, 'objects');
  if (typeof o.signature !== 'string' || o.signature.length > 200) throw badInput('delete request: bad signature field');
  if (o.owner !== sender) throw forbidden('a delete request is accepted only from the owner of the objects');
  if (o.holder !== holder) throw forbidden('this delete request is addressed to another cell');
  if (!verifyObjectByCell(o.owner as string, o)) throw unauthenticated('delete request signature does not verify');
  if (createdAt > now + MAX_CLOCK_SKEW_MS) throw unauthenticated('delete request created in the future');
  return { type: DELETE_TYPE, owner: o.owner as string, holder: o.holder as string, seq, created_at: createdAt, manifests, objects, signature: o.signature };
}
