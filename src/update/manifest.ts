import type { KeyObject } from 'node:crypto';
import { canonicalBytes } from '../crypto/canonical.js';
import { signObject, verifyObjectByCell } from '../crypto/sign.js';
import { isCellId, isHash } from '../crypto/encoding.js';
import { expectExactKeys, parseBase64, parseUint } from '../formats/strict.js';
import { badInput } from '../errors.js';
import { parseVersion } from './version.js';

// The signed release manifest (docs/updates.md "Manifest"). Ed25519 over the RFC 8785
// canonical JSON without `signature` (src/crypto/sign.ts), by a release key whose public key
// is written like a cell ID (lowercase base32, 52 characters).

export const MANIFEST_FORMAT = 'grove-bundle-v1';
export const MAX_MANIFEST_BYTES = 16 * 1024;

export interface ReleaseManifest {
  format: typeof MANIFEST_FORMAT;
  version: string;
  /** SHA-256 of the payload, lowercase hex. */
  build_hash: string;
  /** ms since the epoch, derived from build_hash (buildTimeFor): the seed's deterministic build time. */
  build_time: number;
  /** Payload bytes. */
  size: number;
  /** Payload entries. */
  files: number;
  platform: string;
  arch: string;
  /** process.versions.modules of the Node that built node_modules (the native ABI). */
  node_abi: string;
  /** package.json engines.node of the build. */
  node_range: string;
  /** process.versions.node that made the bundle (informative). */
  built_with_node: string;
  /** ms since the epoch; after it the manifest is refused (freeze protection). */
  expires_at: number;
  /** The release public key (base32, like a cell ID). */
  signed_by: string;
  signature: string;
}

export const MANIFEST_FIELDS = [
  'format', 'version', 'build_hash', 'build_time', 'size', 'files', 'platform', 'arch', 'node_abi',
  'node_range', 'built_with_node', 'expires_at', 'signed_by', 'signature',
] as const;

/**
 * The seed's rule ("build time is derived from the content hash, not file mtime"): the first
 * four bytes of build_hash as big-endian seconds since the epoch, in ms. Identical code has
 * the identical build time on every cell. It is a label: builds are ordered by `version`.
 */
export function buildTimeFor(buildHash: string): number {
  return Buffer.from(buildHash.slice(0, 8), 'hex').readUInt32BE(0) * 1000;
}

export function signManifest(key: KeyObject, body: Omit<ReleaseManifest, 'signature'>): ReleaseManifest {
  return signObject(key, body);
}

export function manifestBytes(m: ReleaseManifest): Buffer {
  return canonicalBytes(m);
}

function shortString(v: unknown, field: string, max = 64): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max || !/^[\x20-\x7e]+$/.test(v)) throw badInput(`manifest ${field}: bad value`);
  return v;
}

/** Parses untrusted manifest JSON into a ReleaseManifest (shape only; not the signature). */
export function parseManifest(v: unknown): ReleaseManifest {
  const o = expectExactKeys(v, MANIFEST_FIELDS, 'manifest');
  if (o.format !== MANIFEST_FORMAT) throw badInput('manifest: unknown format');
  if (!parseVersion(o.version)) throw badInput('manifest version: not MAJOR.MINOR.PATCH');
  if (!isHash(o.build_hash)) throw badInput('manifest build_hash: not a SHA-256 hex');
  const m: ReleaseManifest = {
    format: MANIFEST_FORMAT,
    version: o.version as string,
    build_hash: o.build_hash,
    build_time: parseUint(o.build_time, 'manifest build_time'),
    size: parseUint(o.size, 'manifest size'),
    files: parseUint(o.files, 'manifest files'),
    platform: shortString(o.platform, 'platform'),
    arch: shortString(o.arch, 'arch'),
    node_abi: shortString(o.node_abi, 'node_abi'),
    node_range: shortString(o.node_range, 'node_range'),
    built_with_node: shortString(o.built_with_node, 'built_with_node'),
    expires_at: parseUint(o.expires_at, 'manifest expires_at'),
    signed_by: o.signed_by as string,
    signature: o.signature as string,
  };
  if (!isCellId(m.signed_by)) throw badInput('manifest signed_by: not a public key');
  parseBase64(m.signature, 'manifest signature', 64, 64);
  if (m.build_time !== buildTimeFor(m.build_hash)) throw badInput('manifest build_time does not follow from build_hash');
  return m;
}

export function manifestSignatureValid(m: ReleaseManifest): boolean {
  return verifyObjectByCell(m.signed_by, m);
}
