import type { FastifyInstance } from 'fastify';
import type { Home } from '../home/home.js';
import { MAX_GRANT_JSON_BYTES } from '../formats/grant.js';
import { receiveGrant, receiveUnshare, type ReceiveResult } from './received.js';

// Peer endpoints of sharing (docs/design.md §3 `/api/receive-grant`; docs/protocol.md "Sharing").
// Both use the server's default auth: signed by a paired peer, so req.peer is the caller.

export interface ShareRouteDeps {
  home: Home;
  clock: () => number;
  /** Called after a grant was accepted (e.g. to log it or tell the dashboard). */
  onGrant?: (creator: string, manifestHash: string) => void;
  /** A peer's unshare was applied (the Feed may have changed). */
  onUnshare?: (creator: string) => void;
}

/** A body bigger than any grant is refused before it is read (413). */
const UNSHARE_BODY_LIMIT = 1024;

export function registerShareRoutes(app: FastifyInstance, deps: ShareRouteDeps): void {
  app.post('/api/receive-grant', { bodyLimit: MAX_GRANT_JSON_BYTES }, async (req): Promise<ReceiveResult> => {
    const r = receiveGrant(deps.home, req.peer!, req.body, deps.clock());
    if (r.accepted) deps.onGrant?.(req.peer!, (req.body as { manifest_hash: string }).manifest_hash);
    return r;
  });

  app.post('/api/unshare', { bodyLimit: UNSHARE_BODY_LIMIT }, async (req) => {
    const r = receiveUnshare(deps.home.db, req.peer!, req.body, deps.clock());
    deps.onUnshare?.(req.peer!);
    return r;
  });
}
