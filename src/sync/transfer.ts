import type { PeerClient } from '../net/client.js';
import type { ObjectStore } from '../store/objects.js';
import { MAX_OBJECT_BYTES } from '../store/objects.js';
import type { ObjectKind } from '../store/catalog.js';
import { GroveError } from '../errors.js';

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
  const data = await objects.readUnverified(hash);
  try {
    const r = await client.call<{ stored?: boolean; hash?: string }>(route.url, route.peerId, 'PUT', `/api/objects/${hash}?kind=${kind}`, {
      body: data, bodySha256: hash, signal, timeoutMs: 120_000,
    });
    if (r.data?.hash !== undefined && r.data.hash !== hash) throw new GroveError('PEER_ERROR', 'holder confirmed another object');
  } catch (e) {
    if (e instanceof GroveError && e.detail?.status === 400 && (await objects.check(hash)) === 'corrupt') {
      throw new GroveError('CORRUPT', `local object ${hash} is corrupt`, { hash });
    }
    throw e;
  }
  return data.length;
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

/** Runs `fn` over `items` with at most `limit` in flight. */
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
