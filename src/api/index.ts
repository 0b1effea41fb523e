import type { FastifyInstance } from 'fastify';
import type { PairingContext, HolderContext } from '../peers/context.js';
import { registerIdentity } from './identity.js';
import { registerHealth } from './health.js';
import { registerInventory } from './inventory.js';
import { registerObjects } from './objects.js';
import { registerBatch } from './batch.js';
import { registerFetch } from './fetch.js';
import { UploadGate } from './uploads.js';

// The peer API endpoints of docs/design.md §3 that the cell serves from the start. Later features
// (manifests, grants, chat, build, delete) register theirs on `cell.app` before start().

export function registerPeerApi(app: FastifyInstance, ctx: PairingContext & HolderContext): void {
  registerIdentity(app, ctx);
  registerHealth(app, ctx);
  registerInventory(app, ctx);
  // Single and batched uploads pass the same gate: one count of uploads in flight, one quota
  // and disk reservation per owner.
  const uploads = new UploadGate(ctx);
  registerObjects(app, ctx, uploads);
  registerBatch(app, ctx, uploads);
  registerFetch(app, ctx);
}
