import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { INVITE_MAC_INFO } from '../crypto/domains.js';
import { isCellId } from '../crypto/encoding.js';
import type { DB } from '../store/db.js';
import { badInput, forbidden } from '../errors.js';
import { normalizeRouteUrl } from './registry.js';
import { MAX_CARD_ROUTES } from './identity.js';

// Invite codes (docs/design.md §3 "Pairing"). The token is minted from peer_secret, so the inviting
// cell needs no state to check it and `grove invite` works with the daemon stopped:
//   token = base64url(token_id[16] ‖ exp[8, uint64 BE, Unix seconds] ‖ mac[32])
//   mac   = HMAC-SHA256(peer_secret, "grove-invite-v1" ‖ token_id ‖ exp)
// Single use: a spent token_id goes into used_invites (kept until it expires).
// The code handed to the other user is base64url(JSON {v, id, name, routes, token, exp}).

export interface InviteCode {
  v: 1;
  id: string;
  name: string;
  routes: string[];
  token: string;
  /** Expiry, Unix seconds (also inside the MACed token, which is what the inviter checks). */
  exp: number;
}

const ID_LEN = 16;
const MAC_LEN = 32;
const TOKEN_LEN = ID_LEN + 8 + MAC_LEN;
const MAX_CODE_CHARS = 8192;

function mac(secret: Uint8Array, tokenId: Uint8Array, exp: Buffer): Buffer {
  return createHmac('sha256', secret).update(INVITE_MAC_INFO).update(tokenId).update(exp).digest();
}

function expBytes(expS: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(expS));
  return b;
}

export function mintToken(secret: Uint8Array, expS: number, rand: (n: number) => Buffer = randomBytes): string {
  const id = rand(ID_LEN);
  const exp = expBytes(expS);
  return Buffer.concat([id, exp, mac(secret, id, exp)]).toString('base64url');
}

export function mintInvite(
  secret: Uint8Array,
  info: { id: string; name: string; routes: string[]; ttlS: number; nowMs: number },
  rand?: (n: number) => Buffer,
): { code: string; invite: InviteCode } {
  const exp = Math.floor(info.nowMs / 1000) + info.ttlS;
  const invite: InviteCode = { v: 1, id: info.id, name: info.name, routes: info.routes.slice(0, MAX_CARD_ROUTES), token: mintToken(secret, exp, rand), exp };
  return { code: Buffer.from(JSON.stringify(invite)).toString('base64url'), invite };
}

/** Parses an invite code (whitespace around it, e.g. from a copy and paste, is ignored). */
export function decodeInvite(code: string): InviteCode {
  const s = code.trim();
  if (!s || s.length > MAX_CODE_CHARS || !/^[A-Za-z0-9_-]+$/.test(s)) throw badInput('not an invite code');
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  } catch {
    throw badInput('not an invite code');
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badInput('not an invite code');
  const c = v as Record<string, unknown>;
  if (c.v !== 1) throw badInput('unsupported invite code version (upgrade grove?)');
  if (!isCellId(c.id)) throw badInput('invite code: bad cell ID');
  if (typeof c.name !== 'string' || c.name.length > 200) throw badInput('invite code: bad name');
  if (typeof c.token !== 'string' || !/^[A-Za-z0-9_-]{75}$/.test(c.token)) throw badInput('invite code: bad token');
  if (!Number.isSafeInteger(c.exp) || (c.exp as number) < 0) throw badInput('invite code: bad expiry');
  if (!Array.isArray(c.routes) || c.routes.length === 0 || c.routes.length > MAX_CARD_ROUTES || !c.routes.every((r) => typeof r === 'string')) {
    throw badInput('invite code: no usable routes');
  }
  const routes = (c.routes as string[]).map((r) => normalizeRouteUrl(r));
  return { v: 1, id: c.id, name: c.name, routes, token: c.token, exp: c.exp as number };
}

/**
 * The inviter's check of a presented token: well-formed, minted with our peer_secret, not
 * expired. Every failure is FORBIDDEN and says which, so the joining user knows what to do.
 */
export function checkToken(secret: Uint8Array, token: unknown, nowMs: number): { tokenId: string; expS: number } {
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]{75}$/.test(token)) throw forbidden('invite code is not valid');
  const raw = Buffer.from(token, 'base64url');
  if (raw.length !== TOKEN_LEN) throw forbidden('invite code is not valid');
  const id = raw.subarray(0, ID_LEN);
  const exp = raw.subarray(ID_LEN, ID_LEN + 8);
  const got = raw.subarray(ID_LEN + 8);
  if (!timingSafeEqual(got, mac(secret, id, exp))) throw forbidden('invite code is not valid for this cell');
  const expS = Number(exp.readBigUInt64BE());
  if (!Number.isSafeInteger(expS) || expS * 1000 <= nowMs) throw forbidden('invite code has expired');
  return { tokenId: id.toString('hex'), expS };
}

/** Marks a token spent (call inside the pairing transaction). A second use is FORBIDDEN. */
export function spendToken(db: DB, tokenId: string, expS: number, nowMs: number): void {
  db.prepare('DELETE FROM used_invites WHERE expires_at < ?').run(Math.floor(nowMs / 1000));
  const r = db.prepare('INSERT OR IGNORE INTO used_invites(token_id, expires_at) VALUES (?, ?)').run(tokenId, expS);
  if (r.changes !== 1) throw forbidden('invite code was already used');
}
