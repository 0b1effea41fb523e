import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { seal, open } from '../crypto/aead.js';
import { canonicalBytes } from '../crypto/canonical.js';
import { INDEX_AAD } from '../crypto/domains.js';
import { indexKey } from '../crypto/kdf.js';
import { signObject, verifyObjectByCell } from '../crypto/sign.js';
import { isCellId, isHash } from '../crypto/encoding.js';
import { corrupt } from '../errors.js';

// The recovery index (issue 4 §6): this cell's own file listing and its peers with their
// routes, sealed under a key derived from the master key and signed by the cell. It is
// stored and replicated like any object, so after a total loss the exported keys plus one
// surviving peer are enough to find every holder and every file.

export interface IndexFile {
  path: string;
  name: string;
  version: number;
  size: number;
  file_hash: string;
  manifest_hash: string;
  chunks: number;
  added_at: number;
}

export interface IndexPeer {
  id: string;
  name: string;
  x25519: string;
  preferred: boolean;
  routes: { url: string; kind: string }[];
}

export interface FileIndex {
  owner: string;
  created_at: number;
  files: IndexFile[];
  peers: IndexPeer[];
  /** Grants other cells gave us (signed by them; re-verified on restore), so the Feed survives. */
  grants?: unknown[];
  /** Paths we share, and with whom, so newer versions keep following after a rebuild. */
  shares?: { path: string; recipient: string }[];
  /** Last chat sequence number sent to each peer, so a rebuilt cell does not reuse one. */
  chat_seq?: Record<string, number>;
}

interface Envelope {
  v: 1;
  owner: string;
  created_at: number;
  nonce: string;
  ciphertext: string;
  signature: string;
}

function aad(owner: string, createdAt: number): Buffer {
  return Buffer.from(`${INDEX_AAD}\n${owner}\n${createdAt}`);
}

/** Seals and signs an index; returns the bytes to store as an object. */
export function sealIndex(master: Uint8Array, identity: KeyObject, index: FileIndex, nonce: Buffer = randomBytes(12)): Buffer {
  const ct = seal(indexKey(master), nonce, aad(index.owner, index.created_at), canonicalBytes(index));
  const env = signObject(identity, {
    v: 1 as const, owner: index.owner, created_at: index.created_at,
    nonce: nonce.toString('base64'), ciphertext: ct.toString('base64'),
  });
  return canonicalBytes(env);
}

/** Checks the owner's signature, then opens the index. Any problem is CORRUPT. */
export function openIndex(master: Uint8Array, expectedOwner: string, bytes: Uint8Array): FileIndex {
  let env: Envelope;
  try {
    env = JSON.parse(Buffer.from(bytes).toString('utf8')) as Envelope;
  } catch {
    throw corrupt('index is not JSON');
  }
  if (!env || env.v !== 1 || env.owner !== expectedOwner || !Number.isSafeInteger(env.created_at)
    || typeof env.nonce !== 'string' || typeof env.ciphertext !== 'string') throw corrupt('invalid index envelope');
  if (!verifyObjectByCell(expectedOwner, env as unknown as { signature?: unknown })) throw corrupt('index signature invalid');
  const nonce = Buffer.from(env.nonce, 'base64');
  if (nonce.length !== 12) throw corrupt('invalid index nonce');
  const plain = open(indexKey(master), nonce, aad(env.owner, env.created_at), Buffer.from(env.ciphertext, 'base64'));
  let idx: FileIndex;
  try {
    idx = JSON.parse(plain.toString('utf8')) as FileIndex;
  } catch {
    throw corrupt('index body is not JSON');
  }
  if (idx.owner !== expectedOwner || !Array.isArray(idx.files) || !Array.isArray(idx.peers)) throw corrupt('invalid index');
  for (const f of idx.files) {
    if (!isHash(f.manifest_hash) || !isHash(f.file_hash) || typeof f.path !== 'string') throw corrupt('invalid index entry');
  }
  for (const p of idx.peers) {
    if (!isCellId(p.id) || !Array.isArray(p.routes)) throw corrupt('invalid index peer');
  }
  if (idx.grants !== undefined && !Array.isArray(idx.grants)) throw corrupt('invalid index grants');
  if (idx.chat_seq !== undefined && (typeof idx.chat_seq !== 'object' || idx.chat_seq === null
    || !Object.entries(idx.chat_seq).every(([k, v]) => isCellId(k) && Number.isSafeInteger(v) && v >= 0))) {
    throw corrupt('invalid index chat_seq');
  }
  if (idx.shares !== undefined && (!Array.isArray(idx.shares) || !idx.shares.every((x) => x && typeof x.path === 'string' && isCellId(x.recipient)))) {
    throw corrupt('invalid index shares');
  }
  return idx;
}
