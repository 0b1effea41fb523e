import type { ControlRegistry } from '../daemon/control.js';
import { GroveError } from '../errors.js';
import type { PairingContext } from './context.js';
import { createInvite, pairWithCode } from './pairing.js';
import { peerView } from './probe.js';
import type { PeerRecord } from './registry.js';

// The peer layer's control commands (docs/design.md §5): `invite`, `pair`, `peers`. The CLI
// runs them over the control socket of a running cell, or on an offline cell of the home.

export function pairResult(p: PeerRecord): { id: string; name: string; routes: string[] } {
  return { id: p.id, name: p.name, routes: p.routes.map((r) => r.url) };
}

export function registerPeerControl(control: ControlRegistry, ctx: PairingContext, probeAndBench: (signal: AbortSignal) => Promise<void>): void {
  control.register('invite', () => createInvite(ctx));
  control.register('pair', async (p, { signal }) => {
    if (typeof p.code !== 'string') throw new GroveError('BAD_INPUT', 'missing invite code');
    return pairResult(await pairWithCode(ctx, p.code, { signal }));
  });
  control.register('peers', async (p, { signal }) => {
    if (p.probe === true) await probeAndBench(signal);
    return { peers: ctx.peers.list().map((peer) => peerView(ctx, peer)) };
  });
}
