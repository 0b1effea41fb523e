import 'reflect-metadata'; // @peculiar/x509 needs the Reflect metadata polyfill (it uses tsyringe)
import * as x509 from '@peculiar/x509';
import { webcrypto, randomBytes, type KeyObject } from 'node:crypto';
import { rawPublic, cellIdFromPublic } from '../crypto/keys.js';

// The cell's TLS certificate (docs/protocol.md "TLS bound to the cell identity"): X.509 v3,
// self-signed by the cell's Ed25519 identity key, subject CN = the cell ID. Nothing in it is
// trusted but its public key: a caller accepts a connection only if that key is the one its
// cell ID encodes, and TLS 1.3's CertificateVerify proves the server holds the private key.
// The certificate is made at start (a few ms) and never stored.

x509.cryptoProvider.set(webcrypto as never);

export interface TlsIdentity {
  /** PEM PKCS#8 private key (the identity key itself). */
  key: string;
  /** PEM certificate. */
  cert: string;
}

export async function makeTlsIdentity(identity: KeyObject, publicKey: KeyObject): Promise<TlsIdentity> {
  const subtle = webcrypto.subtle;
  const priv = await subtle.importKey('pkcs8', identity.export({ format: 'der', type: 'pkcs8' }), { name: 'Ed25519' }, false, ['sign']);
  const pub = await subtle.importKey('spki', publicKey.export({ format: 'der', type: 'spki' }), { name: 'Ed25519' }, true, ['verify']);
  const cellId = cellIdFromPublic(rawPublic(publicKey));
  // A positive serial (first bit clear), random so two certificates of one cell differ.
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial.toString('hex'),
    name: `CN=${cellId}`,
    // Validity is not checked by Grove (the key is what counts); a wide window keeps other
    // TLS tools quiet.
    notBefore: new Date('2000-01-01T00:00:00Z'),
    notAfter: new Date('9999-12-31T23:59:59Z'),
    keys: { privateKey: priv, publicKey: pub } as never,
    signingAlgorithm: { name: 'Ed25519' },
  });
  return { key: identity.export({ format: 'pem', type: 'pkcs8' }).toString(), cert: cert.toString('pem') };
}
