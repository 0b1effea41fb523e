import { readFileSync, statSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  generateEd25519, generateX25519, keyPairFromPem, privateKeyPem, cellIdFromPublic, type KeyPair,
} from '../crypto/keys.js';
import { writeFileAtomicSync } from './atomic.js';
import type { HomePaths } from './paths.js';
import { GroveError } from '../errors.js';

export interface CellKeys {
  identity: KeyPair;
  x25519: KeyPair;
  master: Buffer;
  peerSecret: Buffer;
  cellId: string;
}

const SECRET_MODE = 0o600;

/** Refuses key files that others can read, as ssh does. */
export function checkSecretMode(path: string): void {
  const st = statSync(path);
  if ((st.mode & 0o077) !== 0) {
    throw new GroveError('FORBIDDEN', `${path} is accessible by others (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${path}`);
  }
}

function readSecret(path: string, what: string): Buffer {
  if (!existsSync(path)) {
    throw new GroveError('NOT_FOUND', `${what} missing at ${path}: run \`grove init\` (or \`grove key import\`)`);
  }
  checkSecretMode(path);
  return readFileSync(path);
}

export function loadKeys(p: HomePaths): CellKeys {
  const identity = loadPem(p.nodeKey, 'identity key', 'ed25519');
  const x25519 = loadPem(p.x25519Key, 'X25519 key', 'x25519');
  const master = readSecret(p.masterKey, 'master key');
  const peerSecret = readSecret(p.peerSecret, 'peer secret');
  if (master.length !== 32) throw new GroveError('CORRUPT', `${p.masterKey} must hold exactly 32 bytes`);
  if (peerSecret.length !== 32) throw new GroveError('CORRUPT', `${p.peerSecret} must hold exactly 32 bytes`);
  return { identity, x25519, master, peerSecret, cellId: cellIdFromPublic(identity.publicRaw) };
}

function loadPem(path: string, what: string, type: 'ed25519' | 'x25519'): KeyPair {
  const pem = readSecret(path, what);
  let kp: KeyPair;
  try {
    kp = keyPairFromPem(pem);
  } catch {
    throw new GroveError('CORRUPT', `${path} is not a valid PKCS#8 PEM key`);
  }
  if (kp.privateKey.asymmetricKeyType !== type) throw new GroveError('CORRUPT', `${path} is not an ${type} key`);
  return kp;
}

/** Creates each key file that does not exist yet; never overwrites. Returns what it created. */
export function ensureKeys(p: HomePaths, rand: (n: number) => Buffer = randomBytes): string[] {
  const created: string[] = [];
  const make = (path: string, content: () => Uint8Array | string) => {
    if (existsSync(path)) return;
    writeFileAtomicSync(path, content(), SECRET_MODE);
    created.push(path);
  };
  make(p.nodeKey, () => privateKeyPem(generateEd25519().privateKey));
  make(p.x25519Key, () => privateKeyPem(generateX25519().privateKey));
  make(p.masterKey, () => rand(32));
  make(p.peerSecret, () => rand(32));
  return created;
}

/** Writes the given keys into an empty home (key import). Refuses to overwrite. */
export function writeKeys(p: HomePaths, k: { identityPem: string; x25519Pem: string; master: Buffer; peerSecret: Buffer }): void {
  for (const path of [p.nodeKey, p.x25519Key, p.masterKey]) {
    if (existsSync(path)) throw new GroveError('CONFLICT', `${path} already exists; import only into a fresh home`);
  }
  writeFileAtomicSync(p.nodeKey, k.identityPem, SECRET_MODE);
  writeFileAtomicSync(p.x25519Key, k.x25519Pem, SECRET_MODE);
  writeFileAtomicSync(p.masterKey, k.master, SECRET_MODE);
  if (!existsSync(p.peerSecret)) writeFileAtomicSync(p.peerSecret, k.peerSecret, SECRET_MODE);
}
