import { fromBase32, isCellId, isHash } from '../crypto/encoding.js';
import { badInput } from '../errors.js';

// Strict field parsers for signed wire formats (grants, chat). Peer input is refused with
// BAD_INPUT unless it is in the one canonical form: re-encoding what we accepted gives the
// bytes we were sent, so two parties never disagree about what a signature covered.
// Messages name the field, never echo its value.

/** A plain JSON object whose own keys are exactly `keys` (no more, no fewer). */
export function expectExactKeys(v: unknown, keys: readonly string[], what: string): Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badInput(`${what}: not an object`);
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) throw badInput(`${what}: not a plain object`);
  const own = Object.keys(v);
  if (own.length !== keys.length || !keys.every((k) => Object.prototype.hasOwnProperty.call(v, k))) {
    throw badInput(`${what}: expected exactly the fields ${keys.join(', ')}`);
  }
  return v as Record<string, unknown>;
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Encoded length of `n` bytes in padded base64. */
export function base64Length(n: number): number {
  return 4 * Math.ceil(n / 3);
}

/**
 * Canonical padded base64 (RFC 4648 §4) of between `min` and `max` bytes. The length is
 * checked on the string before decoding, so an oversized field costs nothing.
 */
export function parseBase64(v: unknown, field: string, min: number, max: number): Buffer {
  if (typeof v !== 'string') throw badInput(`${field}: not a string`);
  if (v.length < base64Length(min) || v.length > base64Length(max) || v.length % 4 !== 0 || !B64.test(v)) {
    throw badInput(`${field}: bad base64`);
  }
  const bytes = Buffer.from(v, 'base64');
  // Rejects non-zero padding bits and misplaced '=' (Buffer's decoder is lenient).
  if (bytes.toString('base64') !== v || bytes.length < min || bytes.length > max) throw badInput(`${field}: bad base64`);
  return bytes;
}

/** A 64-character lowercase hex SHA-256 digest; returns the 32 bytes. */
export function parseHash(v: unknown, field: string): Buffer {
  if (!isHash(v)) throw badInput(`${field}: not a SHA-256 hex digest`);
  return Buffer.from(v, 'hex');
}

/** A cell ID (docs/design.md §1); returns the raw 32-byte Ed25519 public key. */
export function parseCellId(v: unknown, field: string): Buffer {
  if (!isCellId(v)) throw badInput(`${field}: not a cell ID`);
  let raw: Buffer;
  try {
    raw = fromBase32(v); // refuses non-zero trailing bits, so the encoding is unique
  } catch {
    throw badInput(`${field}: not a cell ID`);
  }
  if (raw.length !== 32) throw badInput(`${field}: not a cell ID`);
  return raw;
}

/** A non-negative safe integer (sizes, millisecond timestamps, sequence numbers). */
export function parseUint(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw badInput(`${field}: not a non-negative integer`);
  return v;
}

/** True if `s` has no lone surrogates, i.e. it survives a UTF-8 round trip unchanged. */
export function isWellFormedUtf16(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}
