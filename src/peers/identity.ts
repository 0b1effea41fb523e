import type { CellKeys } from '../home/keys.js';
import { signObject, verifyObjectByCell, type Signed } from '../crypto/sign.js';
import { isCellId } from '../crypto/encoding.js';
import { badInput, unauthenticated } from '../errors.js';
import { normalizeRouteUrl } from './registry.js';

// The identity card (docs/design.md §3 `GET /api/identity`): a cell's name, X25519 key, build and
// routes, signed by its Ed25519 identity key. The signature binds the X25519 key (used for
// grants and chat) to the cell ID; a card is only ever trusted after verifyCard().

export interface IdentityCardBody {
  id: string;
  name: string;
  /** Raw X25519 public key, lowercase hex. */
  x25519: string;
  build: string;
  routes?: string[];
}

export type IdentityCard = Signed<IdentityCardBody>;

export const MAX_CARD_ROUTES = 16;
const MAX_NAME = 200;

export function makeCard(keys: CellKeys, info: { name: string; build: string; routes?: string[] }): IdentityCard {
  const body: IdentityCardBody = {
    id: keys.cellId,
    name: info.name,
    x25519: keys.x25519.publicRaw.toString('hex'),
    build: info.build,
  };
  if (info.routes && info.routes.length) body.routes = info.routes.slice(0, MAX_CARD_ROUTES);
  return signObject(keys.identity.privateKey, body);
}

/**
 * Checks a card from the wire: exact shape, then the signature by the cell it names, then
 * (if given) that it names the cell we expected. Shape errors are BAD_INPUT, a card not
 * signed by its cell (or by another cell than expected) is UNAUTHENTICATED.
 */
export function verifyCard(v: unknown, expectedId?: string): IdentityCard {
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw badInput('identity card: not an object');
  const c = v as Record<string, unknown>;
  const allowed = new Set(['id', 'name', 'x25519', 'build', 'routes', 'signature']);
  for (const k of Object.keys(c)) if (!allowed.has(k)) throw badInput(`identity card: unexpected field ${k.slice(0, 40)}`);
  if (!isCellId(c.id)) throw badInput('identity card: bad id');
  if (typeof c.name !== 'string' || !c.name || c.name.length > MAX_NAME) throw badInput('identity card: bad name');
  if (typeof c.x25519 !== 'string' || !/^[0-9a-f]{64}$/.test(c.x25519)) throw badInput('identity card: bad x25519 key');
  if (typeof c.build !== 'string' || c.build.length > MAX_NAME) throw badInput('identity card: bad build');
  if (typeof c.signature !== 'string') throw badInput('identity card: missing signature');
  if (c.routes !== undefined) {
    if (!Array.isArray(c.routes) || c.routes.length > MAX_CARD_ROUTES || !c.routes.every((r) => typeof r === 'string' && r.length <= 300)) {
      throw badInput('identity card: bad routes');
    }
    for (const r of c.routes as string[]) normalizeRouteUrl(r);
  }
  if (!verifyObjectByCell(c.id, c)) throw unauthenticated('identity card is not signed by its cell');
  if (expectedId !== undefined && c.id !== expectedId) throw unauthenticated('identity card names another cell');
  return c as unknown as IdentityCard;
}
