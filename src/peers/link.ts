import type { PeerContext } from './context.js';
import type { CallOptions, PeerResponse } from '../net/client.js';
import { callPeer } from './probe.js';
import { GroveError } from '../errors.js';

// One conversation with one peer for a batch of deliveries (grants, objects, chat). The sync
// round hands us the route it just probed; otherwise the first call picks the peer's best
// route (failing over to the others) and the rest of the batch stays on it.

/** A peer and the base URL of one of its routes. */
export interface Route {
  peerId: string;
  url: string;
}

export class PeerLink {
  private url: string | undefined;

  constructor(private readonly ctx: PeerContext, readonly peerId: string, url?: string) {
    this.url = url;
  }

  async call<T = unknown>(method: string, path: string, opts: CallOptions = {}): Promise<PeerResponse<T>> {
    if (this.url) return this.ctx.client.call<T>(this.url, this.peerId, method, path, opts);
    const r = await callPeer<T>(this.ctx, this.peerId, method, path, opts);
    this.url = r.route;
    return r;
  }

  /** The route in use, choosing one (a health call over the best route) if none yet. */
  async route(signal?: AbortSignal): Promise<Route> {
    if (!this.url) await this.call('GET', '/api/health', { signal, timeoutMs: this.ctx.timeouts.probeMs, maxBytes: 4096 });
    return { peerId: this.peerId, url: this.url! };
  }
}

/** The peer could not be reached at all (as opposed to refusing one request). */
export function isUnreachable(e: unknown): boolean {
  return e instanceof GroveError && e.code === 'UNREACHABLE';
}

/** The HTTP status a peer refused with, if it refused. */
export function refusalStatus(e: unknown): number | undefined {
  if (!(e instanceof GroveError) || e.code !== 'PEER_ERROR') return undefined;
  const s = e.detail?.status;
  return typeof s === 'number' ? s : undefined;
}

/** Serializes async work per key (one delivery per peer at a time within this process). */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn);
    const tail = result.then(() => {}, () => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}
