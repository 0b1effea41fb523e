import { createHash, hkdfSync, createCipheriv, createPrivateKey, createPublicKey } from 'node:crypto';

// An independent implementation of docs/design.md §2 (file hash, file key, chunk sealing, manifest
// sealing), written from the text of the design with plain node:crypto calls and nothing
// from src/. The golden-vector test checks it against the stored fixture and against the
// real pipeline, so a change to either side shows up.

export const GOLDEN = {
  masterKeyHex: Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString('hex'),
  /** Ed25519 private key seed of the owner cell. */
  identitySeedHex: createHash('sha256').update('grove-golden-identity-v1').digest('hex'),
  syncedAt: 1_700_000_000_000,
  inputSeed: 'grove-golden-input-v1',
  sizes: [0, 1, 4 * 1024 * 1024, 4 * 1024 * 1024 + 1],
};

const CHUNK = 4 * 1024 * 1024;

/** Input bytes: SHA-256(seed ‖ uint64be(i)) for i = 0, 1, …, truncated to `size`. */
export function goldenInput(size: number): Buffer {
  const out = Buffer.alloc(size);
  const ctr = Buffer.alloc(8);
  for (let i = 0, off = 0; off < size; i++, off += 32) {
    ctr.writeBigUInt64BE(BigInt(i));
    createHash('sha256').update(GOLDEN.inputSeed).update(ctr).digest().copy(out, off);
  }
  return out;
}

/** PKCS#8 DER for an Ed25519 seed (RFC 8410): fixed prefix ‖ 32-byte seed. */
export function goldenIdentityPem(): string {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(GOLDEN.identitySeedHex, 'hex')]);
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Cell ID: raw Ed25519 public key, RFC 4648 base32, lowercase, no padding. */
export function goldenOwner(): string {
  const spki = createPublicKey(createPrivateKey(goldenIdentityPem())).export({ type: 'spki', format: 'der' });
  return refBase32(spki.subarray(spki.length - 32));
}

/** RFC 4648 base32, lowercase, no padding, written from the RFC (no library). */
export function refBase32(bytes: Uint8Array): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** RFC 8785 for what a manifest holds: objects, arrays, ASCII strings, safe integers. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new Error('only integers here');
  return JSON.stringify(v);
}

function chachaSeal(key: Buffer, nonce: Buffer, aad: Buffer, plain: Buffer): Buffer {
  const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: plain.length });
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
};

export interface GoldenCase {
  size: number;
  filename: string;
  source_path: string;
  file_hash: string;
  file_key: string;
  chunks: { index: number; size: number; hash: string }[];
  manifest_hash: string;
}

export function deriveCase(size: number): GoldenCase {
  const master = Buffer.from(GOLDEN.masterKeyHex, 'hex');
  const plain = goldenInput(size);
  const fileHash = createHash('sha256').update(plain).digest();
  const key = Buffer.from(hkdfSync('sha256', master, Buffer.from('grove-file-key-v1'), fileHash, 32));
  const chunks: GoldenCase['chunks'] = [];
  const count = Math.max(1, Math.ceil(size / CHUNK));
  for (let i = 0; i < count; i++) {
    const part = plain.subarray(i * CHUNK, Math.min(size, (i + 1) * CHUNK));
    const nonce = Buffer.concat([Buffer.alloc(4), u64(i)]);
    const aad = Buffer.concat([fileHash, u64(i)]);
    const stored = chachaSeal(key, nonce, aad, part);
    chunks.push({ index: i, size: part.length, hash: createHash('sha256').update(stored).digest('hex') });
  }
  const filename = `golden-${size}.bin`;
  const manifest = {
    filename,
    source_path: `/golden/${filename}`,
    chunks: chunks.map((c) => ({ hash: c.hash, size: c.size, index: c.index })),
    total_size: size,
    file_hash: fileHash.toString('hex'),
    encryption: { cipher: 'chacha20-poly1305', kdf: 'hkdf-sha256', chunk_size: CHUNK },
    version: 1,
    synced_at: GOLDEN.syncedAt,
    owner: goldenOwner(),
  };
  const sealed = chachaSeal(key, Buffer.from('ffffffff0000000000000000', 'hex'), Buffer.from('grove-manifest-v1'), Buffer.from(canonical(manifest), 'utf8'));
  return {
    size, filename, source_path: manifest.source_path, file_hash: manifest.file_hash, file_key: key.toString('hex'),
    chunks, manifest_hash: createHash('sha256').update(sealed).digest('hex'),
  };
}

export function deriveGolden(): { master_key: string; owner: string; synced_at: number; input: string; cases: GoldenCase[] } {
  return {
    master_key: GOLDEN.masterKeyHex,
    owner: goldenOwner(),
    synced_at: GOLDEN.syncedAt,
    input: `first N bytes of SHA-256("${GOLDEN.inputSeed}" ‖ uint64be(i)), i = 0, 1, …`,
    cases: GOLDEN.sizes.map(deriveCase),
  };
}
