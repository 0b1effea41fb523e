import type { FastifyInstance } from 'fastify';
import type { HolderContext } from '../peers/context.js';
import { inventorySince } from '../store/catalog.js';
import { badInput } from '../errors.js';

// GET /api/inventory?since=N[&limit=M] (docs/design.md §3: incremental, by sequence number).
// Answers the caller's own objects held here whose seq is above N, oldest first, at most M
// (bounded) per page. Other owners' objects are none of the caller's business: listing them
// would leak who else stores here, and which hashes (security review).

export const INVENTORY_DEFAULT_LIMIT = 1000;
export const INVENTORY_MAX_LIMIT = 10_000;

function intParam(v: unknown, name: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !/^\d{1,16}$/.test(v)) throw badInput(`${name} must be a non-negative integer`);
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw badInput(`${name} must be between ${min} and ${max}`);
  return n;
}

export function registerInventory(app: FastifyInstance, ctx: HolderContext): void {
  app.get('/api/inventory', async (req) => {
    const q = (req.query ?? {}) as Record<string, unknown>;
    const since = intParam(q.since, 'since', 0, Number.MAX_SAFE_INTEGER, 0);
    const limit = intParam(q.limit, 'limit', 1, INVENTORY_MAX_LIMIT, INVENTORY_DEFAULT_LIMIT);
    return inventorySince(ctx.home.db, since, limit, req.peer!);
  });
}
