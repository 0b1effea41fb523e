import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { PeerClient } from '../net/client.js';
import type { ControlRegistry } from '../daemon/control.js';
import type { PeerExchange } from '../sync/round.js';
import { badInput } from '../errors.js';
import { UpdateService } from './service.js';
import { registerBuildRoutes } from './routes.js';
import { runningBuild } from './running.js';
import { supervisionFromEnv } from '../watchdog/supervision.js';

// Wires updates into a cell from narrow collaborators: the peer API (two GET routes), the
// control registry (`update-list`, `update-import`, `update-accept`), the sync round's
// exchanges (step 5: fetch newer trusted builds from each reachable peer).

export interface UpdateWiring {
  home: string;
  app: FastifyInstance;
  control: ControlRegistry;
  exchanges: PeerExchange[];
  client: Pick<PeerClient, 'call' | 'download'>;
  clock: () => number;
  log: Logger;
  update: () => { trusted_keys: string[]; max_bundle_bytes: number };
  env?: NodeJS.ProcessEnv;
}

export function attachUpdates(w: UpdateWiring): UpdateService & { onExitRequest(fn: (code: number) => void): void } {
  let exitListener: ((code: number) => void) | undefined;
  const service = new UpdateService({
    home: w.home, update: w.update, clock: w.clock, log: w.log.child({ part: 'update' }),
    running: runningBuild(), supervised: supervisionFromEnv(w.env ?? process.env).supervised,
    client: w.client,
    requestExit: (code) => exitListener?.(code),
  });
  service.pruneBundles();
  registerBuildRoutes(w.app, service);
  w.control.register('update-list', () => service.list());
  w.control.register('update-import', (p, { signal }) => {
    if (typeof p.file !== 'string') throw badInput('expected {file}');
    return service.importBundle(p.file, { allowMajor: p.allow_major === true, signal });
  });
  w.control.register('update-accept', (p) => {
    if (p.hash !== undefined && typeof p.hash !== 'string') throw badInput('hash must be a string');
    return service.accept(p.hash as string | undefined, { allowMajor: p.allow_major === true });
  });
  w.exchanges.push({
    name: 'update',
    run: async (route, _summary, signal) => {
      await service.exchange(route, signal);
    },
  });
  return Object.assign(service, { onExitRequest: (fn: (code: number) => void) => { exitListener = fn; } });
}
