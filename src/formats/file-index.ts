import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { seal, open } from '../crypto/aead.js';
import { canonicalBytes } from '../crypto/canonical.js';
import { INDEX_AAD, INDEX_PAGE_AAD } from '../crypto/domains.js';
import { indexKey } from '../crypto/kdf.js';
import { signObject, verifyObjectByCell } from '../crypto/sign.js';
import { corrupt } from '../errors.js';

// The recovery index (docs/formats.md "Recovery index"): this cell's own file listing, its
// peers with their routes and what other features register, sealed under a key derived from
// the master key and signed by the cell. It is stored and replicated like any object, so
// after a total loss the exported keys plus one surviving peer are enough to find every
// holder and every file.

/**
 * An index: who it belongs to, when it was sealed, and one top-level key per section
 * (`files`, `peers`, `grants`, `shares`, `chat_seq`, …; src/recovery/sections.ts). Each
 * section is written and checked by the feature that owns it.
 */
export interface FileIndex {
  owner: string;
  created_at: number;
  [section: string]: unknown;
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
  if (!idx || typeof idx !== 'object' || Array.isArray(idx) || idx.owner !== expectedOwner || idx.created_at !== env.created_at) throw corrupt('invalid index');
  return idx;
}

// A long section (every version of 100 000 files is ~30 MB of JSON, far above what one object
// may hold) goes into pages, each an object of its own named by the index: the index stays
// small, a page unchanged since the last index is the same object, and neither is ever built
// whole in memory. A page is `nonce (12 bytes) ‖ ciphertext`: the canonical JSON of
// `{owner, section, items}` sealed under the index key, AAD `grove-index-page-v1\n` ‖ owner.
// Its integrity comes from its hash, which the signed index names.

/**
 * Most items in one index page: a files page is ~90 KB of JSON, well within an object, and
 * small enough that building one allocates no large-object space (the cell's memory stays flat
 * while it writes a few hundred of them).
 */
export const INDEX_PAGE_ITEMS = 250;

export interface IndexPage {
  owner: string;
  section: string;
  items: unknown[];
}

/** The value of a paged section in the index: its pages in order, and how many items they hold. */
export interface PagedSection {
  pages: string[];
  count: number;
}

export function isPagedSection(v: unknown): v is PagedSection {
  const p = v as PagedSection | undefined;
  return !!p && typeof p === 'object' && !Array.isArray(p) && Array.isArray(p.pages) && Number.isSafeInteger(p.count);
}

function pageAad(owner: string): Buffer {
  return Buffer.from(`${INDEX_PAGE_AAD}\n${owner}`);
}

export function sealIndexPage(master: Uint8Array, page: IndexPage, nonce: Buffer = randomBytes(12)): Buffer {
  return Buffer.concat([nonce, seal(indexKey(master), nonce, pageAad(page.owner), canonicalBytes(page))]);
}

/** Opens a page of `section` sealed by `owner`; anything else (or damage) is CORRUPT. */
export function openIndexPage(master: Uint8Array, owner: string, section: string, bytes: Uint8Array): unknown[] {
  if (bytes.length < 12 + 16) throw corrupt('index page too short');
  const buf = Buffer.from(bytes);
  const plain = open(indexKey(master), buf.subarray(0, 12), pageAad(owner), buf.subarray(12));
  let page: IndexPage;
  try {
    page = JSON.parse(plain.toString('utf8')) as IndexPage;
  } catch {
    throw corrupt('index page body is not JSON');
  }
  if (!page || page.owner !== owner || page.section !== section || !Array.isArray(page.items)) throw corrupt('invalid index page');
  return page.items;
}
