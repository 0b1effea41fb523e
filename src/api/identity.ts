import type { FastifyInstance } from 'fastify';
import type { PairingContext } from '../peers/context.js';
import { acceptPairing } from '../peers/pairing.js';

// GET /api/identity (open) and POST /api/pair (any cell that proves its key), docs/design.md §3.

export function registerIdentity(app: FastifyInstance, ctx: PairingContext): void {
  app.get('/api/identity', { config: { auth: 'none' } }, async () => ctx.card());

  app.post('/api/pair', { config: { auth: 'signed' } }, async (req) => {
    const { card } = acceptPairing(ctx, req.peer!, req.body);
    return { card };
  });
}
