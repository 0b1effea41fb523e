import type { Server } from 'node:net';
import type { Logger } from 'pino';
import { RelayLink, type RelayLinkTiming } from './link.js';
import type { RelayIdentity } from './dial.js';

// Wiring of a cell's relay links: one RelayLink per configured relay, started with the cell
// and stopped with it; every accepted stream goes to the peer server as a new connection
// (its TLS server runs the handshake on it exactly as on a TCP connection).

export interface RelayLinksDeps {
  urls: readonly string[];
  me: RelayIdentity;
  log: Logger;
  signal: AbortSignal;
  /** The TLS peer server. */
  server: Server;
  onStart: (f: () => void) => void;
  onStop: (f: () => Promise<void>) => void;
  timing?: Partial<RelayLinkTiming>;
}

export function startRelayLinks(d: RelayLinksDeps): RelayLink[] {
  const links = d.urls.map((url) => new RelayLink({
    url, me: d.me, log: d.log, signal: d.signal, ...(d.timing ? { timing: d.timing } : {}),
    onStream: (stream, from) => {
      // Per-address caps and rate limits see each relayed caller as its own "address".
      if (!(stream as { remoteAddress?: string }).remoteAddress) Object.defineProperty(stream, 'remoteAddress', { value: `relay:${from}` });
      d.server.emit('connection', stream);
    },
  }));
  if (!links.length) return links;
  d.onStart(() => { for (const l of links) l.start(); });
  d.onStop(async () => { await Promise.all(links.map((l) => l.stop())); });
  return links;
}
