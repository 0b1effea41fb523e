import type { TLSSocket } from 'node:tls';
import { rawPublic, cellIdFromPublic } from '../crypto/keys.js';
import { GroveError } from '../errors.js';

// The caller's check of a TLS connection (docs/protocol.md "TLS bound to the cell identity"):
// TLS 1.3, and the server's certificate carries the Ed25519 key its cell ID encodes. No CA,
// no name, no validity dates, no trust on first use: the cell ID is the pin.

export const TLS_MIN_VERSION = 'TLSv1.3';

/**
 * TLS 1.3 suites in order of preference, on both sides: AES-GCM first (AES instructions make
 * it several times cheaper than ChaCha20-Poly1305 on the x86 and ARMv8 machines cells run
 * on), AES-128 before AES-256 (fewer rounds; both are far beyond reach). All three are
 * accepted, so any TLS 1.3 peer connects.
 */
export const TLS_CIPHERSUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';

/** The cell ID whose key the peer's certificate carries, or undefined (no or non-Ed25519 key). */
export function certificateCellId(socket: TLSSocket): string | undefined {
  const cert = socket.getPeerX509Certificate();
  if (!cert || cert.publicKey.asymmetricKeyType !== 'ed25519') return undefined;
  return cellIdFromPublic(rawPublic(cert.publicKey));
}

/** Throws WRONG_IDENTITY unless the connection is TLS 1.3 to the cell `expectedId`. */
export function checkPeerIdentity(socket: TLSSocket, expectedId: string): void {
  if (socket.getProtocol() !== 'TLSv1.3') throw new GroveError('WRONG_IDENTITY', `refused ${socket.getProtocol() ?? 'non-TLS'} connection (TLS 1.3 required)`);
  const got = certificateCellId(socket);
  if (got !== expectedId) {
    throw new GroveError('WRONG_IDENTITY', got
      ? `route leads to another cell (${got.slice(0, 12)}…), not ${expectedId.slice(0, 12)}…`
      : 'route answered with a certificate that is not a cell identity', { expected: expectedId, ...(got ? { got } : {}) });
  }
}
