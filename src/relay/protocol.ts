import { signBytes, verifyBytes, publicFromCellId } from '../crypto/keys.js';
import { isCellId } from '../crypto/encoding.js';
import type { KeyObject } from 'node:crypto';

// The relay wire protocol v1 (docs/protocol.md "Relay"): control messages are small JSON
// text frames; data is binary frames of at most MAX_DATA_FRAME bytes. Pure codecs, no I/O.

export const RELAY_AUTH_CONTEXT = 'grove-relay-v1';
export const MAX_DATA_FRAME = 64 * 1024;
export const MAX_CONTROL_MESSAGE = 1024;
export const PATHS = { listen: '/v1/listen', dial: '/v1/dial', accept: '/v1/accept' } as const;

/** Close codes (WebSocket 4000-4999, application-defined). */
export const CLOSE = {
  BAD_MESSAGE: 4400,
  UNAUTHENTICATED: 4401,
  FORBIDDEN: 4403,
  NOT_CONNECTED: 4404,
  TIMEOUT: 4408,
  DUPLICATE: 4409,
  TOO_MANY: 4429,
  FULL: 4503,
} as const;
export type CloseName = keyof typeof CLOSE;

export type ClientHello =
  | { t: 'listen'; id: string; sig: string; token?: string }
  | { t: 'dial'; id: string; to: string; sig: string; token?: string }
  | { t: 'accept'; sid: string };

export type RelayMessage =
  | { t: 'challenge'; nonce: string }
  | { t: 'ok' }
  | { t: 'incoming'; sid: string; from: string }
  | { t: 'error'; code: CloseName; message: string };

/**
 * What a cell signs to prove its ID to a relay: bound to the relay's URL as the cell dialed
 * it (so a challenge cannot be forwarded from another relay), the fresh nonce and the role.
 */
export function authPayload(relayUrl: string, nonce: string, hello: 'listen' | 'dial', to = ''): Buffer {
  return Buffer.from(`${RELAY_AUTH_CONTEXT}\n${relayUrl}\n${nonce}\n${hello}\n${to}`);
}

export function signHello(identity: KeyObject, relayUrl: string, nonce: string, hello: 'listen' | 'dial', to = ''): string {
  return signBytes(identity, authPayload(relayUrl, nonce, hello, to)).toString('base64url');
}

export function verifyHello(id: string, sig: string, relayUrl: string, nonce: string, hello: 'listen' | 'dial', to = ''): boolean {
  try {
    return verifyBytes(publicFromCellId(id), authPayload(relayUrl, nonce, hello, to), Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}

const B64URL = /^[A-Za-z0-9_-]{1,200}$/;

/** A control message's JSON object, bounded in size; undefined when it is not one. */
function controlObject(raw: string): Record<string, unknown> | undefined {
  if (raw.length > MAX_CONTROL_MESSAGE) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return undefined;
  }
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** Parses a client's hello; undefined when malformed (the relay closes with BAD_MESSAGE). */
export function parseHello(raw: string): ClientHello | undefined {
  const m = controlObject(raw);
  if (!m) return undefined;
  const token = m.token === undefined ? undefined : typeof m.token === 'string' && m.token.length <= 200 ? m.token : null;
  if (token === null) return undefined;
  const tok = token === undefined ? {} : { token };
  if (m.t === 'listen' && isCellId(m.id) && typeof m.sig === 'string' && B64URL.test(m.sig)) return { t: 'listen', id: m.id, sig: m.sig, ...tok };
  if (m.t === 'dial' && isCellId(m.id) && isCellId(m.to) && typeof m.sig === 'string' && B64URL.test(m.sig)) return { t: 'dial', id: m.id, to: m.to, sig: m.sig, ...tok };
  if (m.t === 'accept' && typeof m.sid === 'string' && B64URL.test(m.sid)) return { t: 'accept', sid: m.sid };
  return undefined;
}

/** Parses a relay's control message (the cell side); undefined when malformed. */
export function parseRelayMessage(raw: string): RelayMessage | undefined {
  const m = controlObject(raw);
  if (!m) return undefined;
  if (m.t === 'challenge' && typeof m.nonce === 'string' && B64URL.test(m.nonce)) return { t: 'challenge', nonce: m.nonce };
  if (m.t === 'ok') return { t: 'ok' };
  if (m.t === 'incoming' && typeof m.sid === 'string' && B64URL.test(m.sid) && isCellId(m.from)) return { t: 'incoming', sid: m.sid, from: m.from };
  if (m.t === 'error' && typeof m.code === 'string' && m.code in CLOSE) return { t: 'error', code: m.code as CloseName, message: typeof m.message === 'string' ? m.message.slice(0, 200) : '' };
  return undefined;
}

/** The relay's base URL as a cell dials it (`ws://host:port`), from a relay route or relay.urls entry. */
export function relayBase(url: URL): string {
  const proto = url.protocol === 'relay+wss:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  return `${proto}//${url.host.toLowerCase()}`;
}

/** A cell's relay route: `relay+ws://host:port/<cell ID>` (docs/protocol.md "Routes"). */
export function relayRoute(relayUrl: string, cellId: string): string {
  const u = new URL(relayUrl);
  return `relay+${u.protocol === 'wss:' ? 'wss' : 'ws'}://${u.host.toLowerCase()}/${cellId}`;
}
