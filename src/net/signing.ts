import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { REQUEST_SIG_CONTEXT, RESPONSE_SIG_CONTEXT } from '../crypto/domains.js';
import { signBytes, verifyBytes, publicFromCellId } from '../crypto/keys.js';
import { isCellId, isHash } from '../crypto/encoding.js';
import { unauthenticated } from '../errors.js';

// docs/design.md §3: every request and response between cells is signed by the sender's Ed25519 key
// over method, path, timestamp, nonce and the SHA-256 of the body. We also bind the intended
// recipient (a request for B cannot be replayed at C) and, for responses, the status and the
// request's nonce (a response cannot be replayed for another request). Pure: no I/O.

export const H = {
  from: 'x-grove-from',
  to: 'x-grove-to',
  ts: 'x-grove-ts',
  nonce: 'x-grove-nonce',
  body: 'x-grove-body-sha256',
  sig: 'x-grove-signature',
} as const;

/** Max clock difference accepted (docs/design.md §3: ±5 min). */
export const MAX_SKEW_MS = 5 * 60 * 1000;

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

export interface SignedHeaders {
  from: string;
  to: string;
  ts: number;
  nonce: string;
  bodySha256: string;
  signature: string;
}

export interface RequestFacts {
  method: string;
  /** Path with query string, exactly as sent on the wire (e.g. `/api/inventory?since=4`). */
  path: string;
}

export interface ResponseFacts extends RequestFacts {
  status: number;
  requestNonce: string;
}

export function requestSigningString(f: RequestFacts, h: Omit<SignedHeaders, 'signature'>): Buffer {
  return Buffer.from([REQUEST_SIG_CONTEXT, f.method.toUpperCase(), f.path, h.from, h.to, String(h.ts), h.nonce, h.bodySha256].join('\n'));
}

export function responseSigningString(f: ResponseFacts, h: Omit<SignedHeaders, 'signature'>): Buffer {
  return Buffer.from([
    RESPONSE_SIG_CONTEXT, String(f.status), f.method.toUpperCase(), f.path, f.requestNonce,
    h.from, h.to, String(h.ts), h.nonce, h.bodySha256,
  ].join('\n'));
}

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}

export function signRequest(key: KeyObject, f: RequestFacts, h: Omit<SignedHeaders, 'signature'>): SignedHeaders {
  return { ...h, signature: signBytes(key, requestSigningString(f, h)).toString('base64') };
}

export function signResponse(key: KeyObject, f: ResponseFacts, h: Omit<SignedHeaders, 'signature'>): SignedHeaders {
  return { ...h, signature: signBytes(key, responseSigningString(f, h)).toString('base64') };
}

export function toHttpHeaders(h: SignedHeaders): Record<string, string> {
  return {
    [H.from]: h.from,
    [H.to]: h.to,
    [H.ts]: String(h.ts),
    [H.nonce]: h.nonce,
    [H.body]: h.bodySha256,
    [H.sig]: h.signature,
  };
}

type HeaderBag = Record<string, string | string[] | undefined> | { get(name: string): string | null };

function header(bag: HeaderBag, name: string): string | undefined {
  if (typeof (bag as { get?: unknown }).get === 'function') return (bag as { get(n: string): string | null }).get(name) ?? undefined;
  const v = (bag as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? undefined : v;
}

/** Parses the signed headers strictly; any malformed or missing field is UNAUTHENTICATED. */
export function parseSignedHeaders(bag: HeaderBag): SignedHeaders {
  const from = header(bag, H.from);
  const to = header(bag, H.to);
  const ts = header(bag, H.ts);
  const nonce = header(bag, H.nonce);
  const body = header(bag, H.body);
  const sig = header(bag, H.sig);
  if (!isCellId(from) || !isCellId(to)) throw unauthenticated('missing or malformed signature headers');
  if (!ts || !/^\d{1,16}$/.test(ts)) throw unauthenticated('missing or malformed signature headers');
  if (!nonce || !/^[0-9a-f]{32}$/.test(nonce)) throw unauthenticated('missing or malformed signature headers');
  if (!isHash(body)) throw unauthenticated('missing or malformed signature headers');
  if (!sig || !/^[A-Za-z0-9+/]{86}==$/.test(sig)) throw unauthenticated('missing or malformed signature headers');
  return { from, to, ts: Number(ts), nonce, bodySha256: body, signature: sig };
}

function checkSignature(data: Buffer, h: SignedHeaders): void {
  let ok: boolean;
  try {
    ok = verifyBytes(publicFromCellId(h.from), data, Buffer.from(h.signature, 'base64'));
  } catch {
    ok = false;
  }
  if (!ok) throw unauthenticated('bad signature');
}

export function checkFreshness(ts: number, now: number): void {
  if (Math.abs(now - ts) > MAX_SKEW_MS) throw unauthenticated(`timestamp outside the allowed window: clocks differ by ${Math.round((ts - now) / 1000)} s`);
}

/**
 * Verifies a request's headers (not yet the body: its hash is checked as the body arrives).
 * Replay and known-cell checks are the caller's (they need state).
 */
export function verifyRequest(f: RequestFacts, h: SignedHeaders, selfId: string, now: number): void {
  if (h.to !== selfId) throw unauthenticated('request addressed to another cell');
  checkSignature(requestSigningString(f, h), h);
  checkFreshness(h.ts, now);
}

/** Verifies a response came from `peerId`, for our request, addressed to us. */
export function verifyResponse(f: ResponseFacts, h: SignedHeaders, peerId: string, selfId: string, now: number): void {
  if (h.from !== peerId) throw unauthenticated('response from an unexpected cell');
  if (h.to !== selfId) throw unauthenticated('response addressed to another cell');
  checkSignature(responseSigningString(f, h), h);
  checkFreshness(h.ts, now);
}
