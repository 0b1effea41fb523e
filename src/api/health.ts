import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { PeerContext } from '../peers/context.js';
import { BENCH_BYTES } from '../peers/probe.js';

// GET /api/health (probes) and GET /api/bench (256 KiB of random bytes: route benchmarks).
// Random, so no compression on any path can flatter the measurement.

export function registerHealth(app: FastifyInstance, ctx: PeerContext): void {
  app.get('/api/health', async () => ({ ok: true, id: ctx.id, time: ctx.clock() }));

  app.get('/api/bench', async (_req, reply) => {
    reply.type('application/octet-stream');
    return randomBytes(BENCH_BYTES);
  });
}
