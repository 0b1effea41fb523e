import { base32 } from 'rfc4648';

/** RFC 4648 base32, lowercase, no padding (cell IDs, docs/design.md §1). */
export function toBase32(bytes: Uint8Array): string {
  return base32.stringify(bytes, { pad: false }).toLowerCase();
}

export function fromBase32(s: string): Buffer {
  // `loose` accepts missing padding (cell IDs carry none); case was normalized by the caller's regex.
  return Buffer.from(base32.parse(s.toUpperCase(), { loose: true }));
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
