import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { DB } from '../store/db.js';
import type { ObjectStore } from '../store/objects.js';
import type { PeerClient } from '../net/client.js';
import { CHALLENGE_DOMAIN } from '../crypto/domains.js';
import { isHash } from '../crypto/encoding.js';
import { GroveError } from '../errors.js';
import { dropPlacement } from './placements.js';
import type { Route } from './transfer.js';

// Proof of storage (docs/protocol.md "Challenges"). A holder could acknowledge an object and
// throw it away; its placement would count forever. So each round the owner picks a few of
// the objects a peer claims to hold and asks for SHA-256(domain ‖ fresh nonce ‖ bytes), which
// only a cell that has the bytes right now can answer. A wrong or missing answer drops that
// placement at once, and the round places the object elsewhere.

/** Objects challenged per holder per round (each costs the holder one read of the object). */
export const CHALLENGE_SAMPLE = 8;
/** Most hashes one challenge request may name (the holder reads each: bounded work). */
export const MAX_CHALLENGE_HASHES = 16;

export async function storageProof(path: string, nonce: Buffer): Promise<string> {
  const h = createHash('sha256').update(CHALLENGE_DOMAIN).update(nonce);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export interface ChallengeOutcome {
  checked: number;
  /** Hashes whose placement was dropped: the holder could not prove it has them. */
  failed: string[];
}

/** Challenges one holder on `hashes` (objects we have locally); drops the placements it fails. */
export async function challengeHolder(
  d: { db: DB; objects: ObjectStore; client: PeerClient }, route: Route, hashes: string[], signal?: AbortSignal,
): Promise<ChallengeOutcome> {
  if (!hashes.length) return { checked: 0, failed: [] };
  const nonce = randomBytes(32);
  const res = await d.client.call<{ proofs?: Record<string, unknown> }>(route.url, route.peerId, 'POST', '/api/challenge', {
    json: { nonce: nonce.toString('hex'), hashes }, signal, maxBytes: 64 * 1024,
  });
  const proofs = res.data?.proofs;
  if (!proofs || typeof proofs !== 'object') throw new GroveError('PEER_ERROR', 'malformed challenge answer');
  const failed: string[] = [];
  for (const hash of hashes) {
    let expected: string;
    try {
      expected = await storageProof(d.objects.pathOf(hash), nonce);
    } catch {
      continue; // our own copy went missing meanwhile: nothing to compare against this round
    }
    if (proofs[hash] !== expected) {
      dropPlacement(d.db, hash, route.peerId);
      failed.push(hash);
    }
  }
  return { checked: hashes.length, failed };
}

/** Parses a challenge request body (holder side). */
export function parseChallenge(body: unknown): { nonce: Buffer; hashes: string[] } {
  const b = body as { nonce?: unknown; hashes?: unknown } | undefined;
  if (!b || typeof b.nonce !== 'string' || !/^[0-9a-f]{64}$/.test(b.nonce)
    || !Array.isArray(b.hashes) || b.hashes.length < 1 || b.hashes.length > MAX_CHALLENGE_HASHES || !b.hashes.every(isHash)) {
    throw new GroveError('BAD_INPUT', `expected {nonce: 64 hex, hashes: 1-${MAX_CHALLENGE_HASHES} object hashes}`);
  }
  return { nonce: Buffer.from(b.nonce, 'hex'), hashes: [...new Set(b.hashes as string[])] };
}
