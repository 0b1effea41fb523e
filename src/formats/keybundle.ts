import { scrypt as scryptCb, randomBytes, type ScryptOptions } from 'node:crypto';
import { seal, open, NONCE_LENGTH } from '../crypto/aead.js';
import { canonicalBytes } from '../crypto/canonical.js';
import { KEY_BUNDLE_MAGIC, KEY_LENGTH } from '../crypto/domains.js';
import { isCellId } from '../crypto/encoding.js';
import { GroveError } from '../errors.js';

// Key backup (docs/design.md §2 "Key backup"): the identity key, the X25519 key, the master key and
// peer_secret, sealed under a passphrase. A text file of three lines (docs/formats.md):
//
//   grove-key-bundle-v1
//   {"cell_id":…,"cipher":"chacha20-poly1305","kdf":"scrypt","n":131072,"nonce":…,"p":1,"r":8,"salt":…}
//   <base64 of ciphertext ‖ 16-byte tag>
//
// key = scrypt(NFC(passphrase), salt, N, r, p, 32 bytes); AAD = lines 1 and 2 with their
// newlines, so the header cannot be altered without failing authentication. The plaintext
// is the canonical JSON {identity_pem, x25519_pem, master (base64), peer_secret (base64)}.

export interface KeyBundleSecrets {
  identityPem: string;
  x25519Pem: string;
  master: Buffer;
  peerSecret: Buffer;
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** N = 2^17, r = 8, p = 1: ~128 MiB and a fraction of a second per attempt. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 17, r: 8, p: 1 };

/** What an import accepts: bounds the memory and time a crafted header can demand. */
const LIMITS = { minLogN: 10, maxLogN: 20, maxR: 32, maxP: 16, maxMem: 1024 ** 3 };

export interface KeyBundleHeader {
  cell_id: string;
  cipher: 'chacha20-poly1305';
  kdf: 'scrypt';
  n: number;
  r: number;
  p: number;
  salt: string;
  nonce: string;
}

export interface SealBundleOptions {
  scrypt?: ScryptParams;
  /** Injected for tests; random by default. */
  salt?: Buffer;
  nonce?: Buffer;
}

export async function sealKeyBundle(secrets: KeyBundleSecrets, cellId: string, passphrase: string, opts: SealBundleOptions = {}): Promise<Buffer> {
  const params = opts.scrypt ?? DEFAULT_SCRYPT;
  checkParams(params);
  if (!isCellId(cellId)) throw new RangeError('bad cell ID');
  if (secrets.master.length !== KEY_LENGTH || secrets.peerSecret.length !== KEY_LENGTH) throw new RangeError('secrets must be 32 bytes');
  const salt = opts.salt ?? randomBytes(16);
  const nonce = opts.nonce ?? randomBytes(NONCE_LENGTH);
  const header: KeyBundleHeader = {
    cell_id: cellId, cipher: 'chacha20-poly1305', kdf: 'scrypt', n: params.N, r: params.r, p: params.p,
    salt: salt.toString('base64'), nonce: nonce.toString('base64'),
  };
  const head = Buffer.from(`${KEY_BUNDLE_MAGIC}\n${canonicalBytes(header).toString('utf8')}\n`, 'utf8');
  const body = canonicalBytes({
    identity_pem: secrets.identityPem,
    x25519_pem: secrets.x25519Pem,
    master: secrets.master.toString('base64'),
    peer_secret: secrets.peerSecret.toString('base64'),
  });
  const key = await deriveKey(passphrase, salt, params);
  const sealed = seal(key, nonce, head, body);
  return Buffer.concat([head, Buffer.from(sealed.toString('base64') + '\n', 'utf8')]);
}

/** Reads the header without the passphrase (to show which cell a bundle belongs to). */
export function readKeyBundleHeader(bundle: Uint8Array): { header: KeyBundleHeader; head: Buffer; sealed: Buffer } {
  const text = Buffer.from(bundle).toString('utf8');
  const lines = text.split('\n');
  const bad = (why: string) => new GroveError('BAD_INPUT', `not a grove key bundle (${why})`);
  if (lines[0] !== KEY_BUNDLE_MAGIC) throw bad('wrong first line');
  if (lines.length < 3 || lines.slice(3).some((l) => l !== '')) throw bad('expected three lines');
  let h: KeyBundleHeader;
  try {
    h = JSON.parse(lines[1]!) as KeyBundleHeader;
  } catch {
    throw bad('header is not JSON');
  }
  if (!h || typeof h !== 'object' || h.kdf !== 'scrypt' || h.cipher !== 'chacha20-poly1305' || !isCellId(h.cell_id)) {
    throw bad('unsupported header');
  }
  const params = { N: h.n, r: h.r, p: h.p };
  try {
    checkParams(params);
  } catch {
    throw bad('scrypt parameters out of range');
  }
  const salt = Buffer.from(String(h.salt), 'base64');
  const nonce = Buffer.from(String(h.nonce), 'base64');
  if (salt.length < 16 || nonce.length !== NONCE_LENGTH) throw bad('bad salt or nonce');
  const sealed = Buffer.from(lines[2]!, 'base64');
  return { header: h, head: Buffer.from(`${lines[0]}\n${lines[1]}\n`, 'utf8'), sealed };
}

/** Opens a bundle. A wrong passphrase and a damaged bundle are the same one error. */
export async function openKeyBundle(bundle: Uint8Array, passphrase: string): Promise<{ cellId: string; secrets: KeyBundleSecrets }> {
  const { header, head, sealed } = readKeyBundleHeader(bundle);
  const key = await deriveKey(passphrase, Buffer.from(header.salt, 'base64'), { N: header.n, r: header.r, p: header.p });
  let plain: Buffer;
  try {
    plain = open(key, Buffer.from(header.nonce, 'base64'), head, sealed);
  } catch {
    throw new GroveError('UNAUTHENTICATED', 'wrong passphrase, or the key bundle is damaged');
  }
  let b: Record<string, unknown>;
  try {
    b = JSON.parse(plain.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new GroveError('CORRUPT', 'key bundle contents are invalid');
  }
  const master = Buffer.from(String(b.master), 'base64');
  const peerSecret = Buffer.from(String(b.peer_secret), 'base64');
  if (typeof b.identity_pem !== 'string' || typeof b.x25519_pem !== 'string' || master.length !== KEY_LENGTH || peerSecret.length !== KEY_LENGTH) {
    throw new GroveError('CORRUPT', 'key bundle contents are invalid');
  }
  return { cellId: header.cell_id, secrets: { identityPem: b.identity_pem, x25519Pem: b.x25519_pem, master, peerSecret } };
}

function checkParams(p: ScryptParams): void {
  const logN = Math.log2(p.N);
  const ok = Number.isInteger(logN) && logN >= LIMITS.minLogN && logN <= LIMITS.maxLogN
    && Number.isInteger(p.r) && p.r >= 1 && p.r <= LIMITS.maxR
    && Number.isInteger(p.p) && p.p >= 1 && p.p <= LIMITS.maxP
    && scryptMemory(p) <= LIMITS.maxMem;
  if (!ok) throw new RangeError('scrypt parameters out of range');
}

function scryptMemory(p: ScryptParams): number {
  return 128 * p.N * p.r * p.p + 1024 * 1024;
}

function deriveKey(passphrase: string, salt: Buffer, p: ScryptParams): Promise<Buffer> {
  // NFC, so the same passphrase typed on another system (composed vs decomposed) still works.
  const pw = Buffer.from(passphrase.normalize('NFC'), 'utf8');
  const options: ScryptOptions = { N: p.N, r: p.r, p: p.p, maxmem: scryptMemory(p) * 2 };
  return new Promise((resolve, reject) => {
    scryptCb(pw, salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}
