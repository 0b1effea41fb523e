import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { checkPeerIdentity, TLS_MIN_VERSION, TLS_CIPHERSUITES } from './verify.js';
import { GroveError } from '../errors.js';

// Opens a TLS 1.3 connection to a cell and resolves only once the certificate proved to be
// that cell's identity: no request byte is written to a connection before the check.
// `via` is either a host and port (a direct route) or an already open byte stream (a relay
// stream: the same TLS session then runs end to end through the relay).

export type TlsTarget = { host: string; port: number } | { stream: Duplex };

export function connectToCell(target: TlsTarget, expectedId: string, signal?: AbortSignal): Promise<TLSSocket> {
  return new Promise<TLSSocket>((resolve, reject) => {
    const base = {
      minVersion: TLS_MIN_VERSION,
      ciphers: TLS_CIPHERSUITES,
      // No CA: the certificate is checked against the cell ID below (checkPeerIdentity).
      rejectUnauthorized: false,
      // No `session` is ever passed: a resumed session carries no certificate to check, so
      // every connection runs a full handshake (keep-alive makes them rare).
    } as const;
    const socket = 'stream' in target
      ? tlsConnect({ ...base, socket: target.stream })
      : tlsConnect({ ...base, host: target.host, port: target.port, ...(isIP(target.host) ? {} : { servername: target.host }) });
    // No Nagle: a request's last partial segment would otherwise wait for the previous one's
    // ACK, which the peer may delay (node:http's own agent turns it off for the same reason).
    if (!('stream' in target)) socket.setNoDelay(true);
    const onAbort = () => socket.destroy(new GroveError('UNREACHABLE', 'timed out'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (e?: unknown) => {
      signal?.removeEventListener('abort', onAbort);
      socket.off('error', done);
      if (e) {
        socket.destroy();
        reject(e);
      }
    };
    socket.once('error', done);
    socket.once('secureConnect', () => {
      try {
        checkPeerIdentity(socket, expectedId);
      } catch (e) {
        done(e);
        return;
      }
      done();
      resolve(socket);
    });
    if (signal?.aborted) onAbort();
  });
}
