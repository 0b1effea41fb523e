import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { PeerContext } from '../peers/context.js';
import type { Home } from '../home/home.js';
import { downloadFromPeer } from '../peers/probe.js';
import { unwrapFileKey } from '../formats/grant.js';
import { restoreFile, type FetchObject, type RestoreOptions, type RestoreResult } from '../ingest/restore.js';
import { MAX_OBJECT_BYTES } from '../store/objects.js';
import { GroveError, tooLarge } from '../errors.js';
import { indexPending, type HeldGrant } from './received.js';
import { refusalStatus } from '../peers/link.js';

// `grove get` on a Feed item (seed "Sharing Flow", Recipient 4: decrypt the file key from the
// grant, decrypt the chunks). Objects missing here are fetched from the sharer over its best
// route; every one is hash-checked, every chunk tag-checked, and the whole file checked
// against its file_hash by restoreFile.

/** Fetches objects from one peer (GET /api/objects/{hash}); undefined when it does not have one. */
export function fetchFromPeer(ctx: PeerContext & { home: Home }, peerId: string, signal?: AbortSignal): FetchObject {
  return async (hash) => {
    try {
      const { result } = await downloadFromPeer(ctx, peerId, `/api/objects/${hash}`, (body, expected) => {
        if (expected !== hash) throw new GroveError('PEER_ERROR', 'the peer sent another object');
        return readObject(body, hash);
      }, { signal, timeoutMs: 120_000 });
      return result;
    } catch (e) {
      if (refusalStatus(e) === 404) return undefined;
      throw e;
    }
  };
}

async function readObject(body: Readable, hash: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  const h = createHash('sha256');
  let n = 0;
  for await (const piece of body) {
    const b = piece as Buffer;
    n += b.length;
    if (n > MAX_OBJECT_BYTES) {
      body.destroy();
      throw tooLarge('object from peer is too large');
    }
    h.update(b);
    parts.push(b);
  }
  if (h.digest('hex') !== hash) throw new GroveError('PEER_ERROR', 'object from peer does not match its hash');
  return Buffer.concat(parts);
}

/** How a file shared with this cell is read: the key unwrapped from its grant, missing objects fetched from the sharer. */
export interface SharedSource {
  key: Uint8Array;
  fetchObject: FetchObject;
}

export function sharedSource(ctx: PeerContext & { home: Home }, held: HeldGrant, signal?: AbortSignal): SharedSource {
  const { x25519 } = ctx.home.keys;
  return { key: unwrapFileKey(held.grant, x25519.privateKey, x25519.publicRaw), fetchObject: fetchFromPeer(ctx, held.creator, signal) };
}

/** Restores a file shared with this cell to `out`, with the key unwrapped from its grant. */
export async function restoreShared(ctx: PeerContext & { home: Home }, held: HeldGrant, out: string, opts: Omit<RestoreOptions, 'fetchObject'> = {}): Promise<RestoreResult> {
  const { key, fetchObject } = sharedSource(ctx, held, opts.signal);
  const r = await restoreFile(ctx.home, held.grant.manifest_hash, key, out, { now: ctx.clock, ...opts, fetchObject });
  indexPending(ctx.home, held.grant.manifest_hash); // the manifest may have arrived just now: pin its chunks
  return r;
}
