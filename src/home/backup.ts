import { existsSync, mkdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { homePaths } from './paths.js';
import { loadKeys, writeKeys } from './keys.js';
import { initHome, type InitResult } from './home.js';
import { writeFileAtomic } from './atomic.js';
import { keyPairFromPem, privateKeyPem, cellIdFromPublic } from '../crypto/keys.js';
import { sealKeyBundle, openKeyBundle, type ScryptParams } from '../formats/keybundle.js';
import { GroveError } from '../errors.js';

// `grove key export|import` (docs/design.md §2 "Key backup"): the home's secrets as a passphrase-
// sealed bundle (src/formats/keybundle.ts), and a new home built from one.

export interface ExportOptions {
  force?: boolean;
  scrypt?: ScryptParams;
}

export async function exportKeyBundle(root: string, out: string, passphrase: string, opts: ExportOptions = {}): Promise<{ cellId: string; out: string }> {
  out = resolve(out);
  const keys = loadKeys(homePaths(root));
  if (!opts.force && existsSync(out)) throw new GroveError('CONFLICT', `${out} already exists (use --force to overwrite)`);
  const bundle = await sealKeyBundle({
    identityPem: privateKeyPem(keys.identity.privateKey),
    x25519Pem: privateKeyPem(keys.x25519.privateKey),
    master: keys.master,
    peerSecret: keys.peerSecret,
  }, keys.cellId, passphrase, opts.scrypt ? { scrypt: opts.scrypt } : {});
  await writeFileAtomic(out, bundle, 0o600);
  return { cellId: keys.cellId, out };
}

export interface ImportOptions {
  name?: string;
  password?: string;
  passwordIterations?: number;
}

/**
 * Restores a bundle into a fresh home: opens it first (a wrong passphrase touches nothing),
 * writes the keys (refusing to overwrite any), then creates the rest as `grove init` does.
 */
export async function importKeyBundle(root: string, bundle: Uint8Array, passphrase: string, opts: ImportOptions = {}): Promise<{ cellId: string; init: InitResult }> {
  const { cellId, secrets } = await openKeyBundle(bundle, passphrase);
  let identityOk: boolean;
  try {
    const id = keyPairFromPem(secrets.identityPem);
    const x = keyPairFromPem(secrets.x25519Pem);
    identityOk = id.privateKey.asymmetricKeyType === 'ed25519' && x.privateKey.asymmetricKeyType === 'x25519'
      && cellIdFromPublic(id.publicRaw) === cellId;
  } catch {
    identityOk = false;
  }
  if (!identityOk) throw new GroveError('CORRUPT', 'key bundle holds keys that do not match its cell ID');
  if (existsSync(root) && !statSync(root).isDirectory()) throw new GroveError('BAD_INPUT', `${root} exists and is not a directory`);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const p = homePaths(root);
  writeKeys(p, {
    identityPem: privateKeyPem(keyPairFromPem(secrets.identityPem).privateKey),
    x25519Pem: privateKeyPem(keyPairFromPem(secrets.x25519Pem).privateKey),
    master: secrets.master,
    peerSecret: secrets.peerSecret,
  });
  const init = initHome(root, opts);
  return { cellId, init };
}
