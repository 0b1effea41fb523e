import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';

// Graceful shutdown of an HTTP server: requests in flight finish, but connections with no
// request in flight are closed at once. Node's closeIdleConnections() misses a keep-alive
// socket that was opened and never sent a request (a client that aborted early), which
// would hold server.close() open until some keep-alive timeout expires (seconds to minutes).

export interface ConnectionDrain {
  /** Closes idle connections now and each busy one as soon as its last response is done. */
  drain(): void;
  /** Destroys every connection (the grace period is over). */
  destroyAll(): void;
}

export function trackConnections(server: Server): ConnectionDrain {
  const busy = new Map<Socket, number>();
  let draining = false;
  // On a TLS server the requests run on the TLS socket, not on the raw connection.
  server.on(server instanceof TlsServer ? 'secureConnection' : 'connection', (s: Socket) => {
    if (draining) {
      s.destroy();
      return;
    }
    busy.set(s, 0);
    s.once('close', () => busy.delete(s));
  });
  server.on('request', (req, res) => {
    const s = req.socket;
    busy.set(s, (busy.get(s) ?? 0) + 1);
    res.once('close', () => {
      const n = Math.max(0, (busy.get(s) ?? 1) - 1);
      busy.set(s, n);
      if (draining && n === 0) s.end();
    });
  });
  return {
    drain() {
      draining = true;
      for (const [s, n] of busy) if (n === 0) s.end();
    },
    destroyAll() {
      for (const s of busy.keys()) s.destroy();
    },
  };
}
