import { readFileSync, statSync, writeFileSync } from 'node:fs';
import type { KeyObject } from 'node:crypto';
import { generateEd25519, keyPairFromPem, privateKeyPem, rawPublic, cellIdFromPublic } from '../crypto/keys.js';
import { GroveError, badInput } from '../errors.js';

// Release keys: an Ed25519 private key in PKCS#8 PEM (mode 600), its public key written like
// a cell ID (lowercase base32). Cells trust it through config.json update.trusted_keys.

export function generateReleaseKey(file: string): string {
  const kp = generateEd25519();
  try {
    writeFileSync(file, privateKeyPem(kp.privateKey), { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new GroveError('CONFLICT', `${file} exists; a release key is never overwritten`);
    throw e;
  }
  return cellIdFromPublic(rawPublic(kp.publicKey));
}

export function loadReleaseKey(file: string): KeyObject {
  const st = statSync(file);
  if ((st.mode & 0o077) !== 0) throw new GroveError('FORBIDDEN', `${file} is readable by others; chmod 600 it`);
  try {
    const kp = keyPairFromPem(readFileSync(file));
    if (kp.privateKey.asymmetricKeyType !== 'ed25519') throw new Error('not ed25519');
    return kp.privateKey;
  } catch {
    throw badInput(`${file} is not an Ed25519 release key`);
  }
}
