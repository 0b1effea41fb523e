import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { H } from '../net/signing.js';
import { badInput } from '../errors.js';
import { isHash } from '../crypto/encoding.js';
import type { BuildInfo } from './service.js';

// GET /api/build and GET /api/build/bundle?hash=H (docs/protocol.md "Builds"). Both need a
// signed request from a paired peer (the default auth); the bundle is streamed and its
// response signed with the SHA-256 of the whole file, known from when it was verified.

export interface BuildRouteDeps {
  buildInfo(): BuildInfo;
  bundleFor(hash: string): { path: string; sha256: string };
}

export function registerBuildRoutes(app: FastifyInstance, deps: BuildRouteDeps): void {
  app.get('/api/build', async () => deps.buildInfo());
  app.get('/api/build/bundle', async (req, reply) => {
    const hash = (req.query as Record<string, unknown> | undefined)?.hash;
    if (!isHash(hash)) throw badInput('hash must be a SHA-256 hex');
    const b = deps.bundleFor(hash);
    reply.header(H.body, b.sha256);
    reply.type('application/octet-stream');
    return reply.send(createReadStream(b.path));
  });
}
