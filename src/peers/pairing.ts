import type { PairingContext } from './context.js';
import type { PeerRecord } from './registry.js';
import { normalizeRouteUrl, routeKindOf } from './registry.js';
import { verifyCard, MAX_CARD_ROUTES, type IdentityCard } from './identity.js';
import { checkToken, decodeInvite, mintInvite, spendToken, type InviteCode } from './invite.js';
import { GroveError, badInput, describeError } from '../errors.js';

// Pairing (docs/design.md §3). The joiner POSTs {token, card, routes} to /api/pair on one of the
// inviter's routes, signed with its own key (route auth 'signed': a stranger, but one that
// proves its identity). The inviter checks the token, verifies the card was signed by the
// caller, and in one transaction spends the token and adds the peer; it answers with its own
// card, which the joiner accepts only if signed by the cell ID in the invite code.

export interface PairRequest {
  token: string;
  card: IdentityCard;
  routes: string[];
}

/** `grove invite`: a fresh single-use code for this cell. */
export function createInvite(ctx: PairingContext): { code: string; invite: InviteCode } {
  const routes = ctx.routes();
  if (!routes.length) throw new GroveError('BAD_INPUT', 'this cell has no route to advertise: set api.advertise (grove config set api.advertise http://HOST:PORT)');
  return mintInvite(ctx.home.keys.peerSecret, {
    id: ctx.id,
    name: ctx.home.config.name,
    routes,
    ttlS: ctx.home.config.invite.ttl_s,
    nowMs: ctx.clock(),
  });
}

function parseRoutes(v: unknown, field: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v) || v.length > MAX_CARD_ROUTES || !v.every((r) => typeof r === 'string' && r.length <= 300)) throw badInput(`${field}: bad routes`);
  return [...new Set(v.map((r: string) => normalizeRouteUrl(r)))];
}

/** The inviter's side of POST /api/pair. `callerId` is the verified signer of the request. */
export function acceptPairing(ctx: PairingContext, callerId: string, body: unknown): { card: IdentityCard; peer: PeerRecord } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badInput('expected {token, card, routes}');
  const b = body as Record<string, unknown>;
  const now = ctx.clock();
  const { tokenId, expS } = checkToken(ctx.home.keys.peerSecret, b.token, now);
  const card = verifyCard(b.card, callerId);
  if (card.id === ctx.id) throw badInput('a cell cannot pair with itself');
  const routes = [...new Set([...parseRoutes(b.routes, 'routes'), ...parseRoutes(card.routes, 'card.routes')])].slice(0, MAX_CARD_ROUTES);
  const db = ctx.home.db;
  db.transaction(() => {
    spendToken(db, tokenId, expS, now);
    ctx.peers.upsert({ id: card.id, name: card.name, x25519: card.x25519, build: card.build }, routes.map((url) => ({ url, kind: routeKindOf(url) })));
  })();
  const peer = ctx.peers.get(card.id)!;
  ctx.log.info({ peer: peer.id, name: peer.name }, 'paired (invited)');
  ctx.events.emit('peer-paired', peer);
  return { card: ctx.card(), peer };
}

/**
 * `grove pair CODE`: the joiner's side. Tries the invite's routes in order until one reaches
 * the inviting cell (a route answered by another cell is skipped); a refusal by the inviter
 * (used, expired, forged token) stops at once and changes nothing here.
 */
export async function pairWithCode(ctx: PairingContext, code: string, opts: { signal?: AbortSignal } = {}): Promise<PeerRecord> {
  const invite = decodeInvite(code);
  if (invite.id === ctx.id) throw badInput('this invite code is for this cell itself; run `grove pair` on the other cell');
  if (invite.exp * 1000 <= ctx.clock()) throw new GroveError('FORBIDDEN', 'invite code has expired; ask for a new one');
  const req: PairRequest = { token: invite.token, card: ctx.card(), routes: ctx.routes() };
  const failures: string[] = [];
  for (const url of invite.routes) {
    let res;
    try {
      res = await ctx.client.call<unknown>(url, invite.id, 'POST', '/api/pair', { json: req, signal: opts.signal, timeoutMs: ctx.timeouts.probeMs * 2 });
    } catch (e) {
      if (e instanceof GroveError && e.code === 'PEER_ERROR' && e.detail?.status !== undefined) {
        throw new GroveError(Number(e.detail.status) === 403 ? 'FORBIDDEN' : 'PEER_ERROR', `${invite.name || 'the inviting cell'} refused pairing: ${describeError(e).replace(/^peer refused: /, '')}`, e.detail);
      }
      if (opts.signal?.aborted) throw e;
      if (e instanceof GroveError && e.detail?.clock_skew_s !== undefined) throw e; // reached, but the clocks differ
      failures.push(`${url}: ${describeError(e)}`);
      continue;
    }
    const card = verifyCard((res.data as { card?: unknown } | undefined)?.card, invite.id);
    const routes = [...new Set([url, ...invite.routes, ...parseRoutes(card.routes, 'card.routes')])].slice(0, MAX_CARD_ROUTES);
    ctx.peers.upsert({ id: card.id, name: card.name, x25519: card.x25519, build: card.build }, routes.map((u) => ({ url: u, kind: routeKindOf(u) })));
    // The pairing call was a signed round trip on this route: record it as a first probe.
    const health = ctx.records.recordProbe(card.id, [{ url, reachable: true, latency_ms: res.latencyMs }], ctx.clock());
    const peer = ctx.peers.get(card.id)!;
    ctx.log.info({ peer: peer.id, name: peer.name, route: url }, 'paired (joined)');
    ctx.events.emit('peer-paired', peer);
    ctx.events.emit('probe', peer.id, health);
    return peer;
  }
  throw new GroveError('UNREACHABLE', `cannot reach the inviting cell on any of its routes (${failures.join('; ')}); is it running?`);
}
