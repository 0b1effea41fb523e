import { base32 } from 'rfc4648';

/** RFC 4648 base32, lowercase, no padding (cell IDs, DESIGN §1). */
export function toBase32(bytes: Uint8Array): string {
  return base32.stringify(bytes, { pad: false }).toLowerCase();
}

export function fromBase32(s: string): Buffer {
  return Buffer.from(base32.parse(s.toUpperCase(), { loose: false, out: Buffer.alloc as never }));
}

const HEX64 = /^[0-9a-f]{64}$/;
/** A SHA-256 hex digest as used for object names: exactly 64 lowercase hex characters. */
export function isHash(s: unknown): s is string {
  return typeof s === 'string' && HEX64.test(s);
}

const CELL_ID = /^[a-z2-7]{52}$/;
export function isCellId(s: unknown): s is string {
  return typeof s === 'string' && CELL_ID.test(s);
}
