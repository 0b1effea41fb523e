import type { ControlRegistry } from '../daemon/control.js';
import { badInput } from '../errors.js';
import type { WatchService } from './service.js';

// Control commands of the running cell for watched folders (the CLI's `grove watch`,
// `grove watch --list`, `grove unwatch` go here when a cell runs).

function dirParam(p: Record<string, unknown>): string {
  if (typeof p.dir !== 'string' || !p.dir || p.dir.length > 4096) throw badInput('missing folder');
  return p.dir;
}

export function registerWatchControl(control: ControlRegistry, watch: WatchService): void {
  control.register('watch', (p) => ({ folder: watch.watch(dirParam(p)) }));
  control.register('unwatch', async (p) => ({ root: await watch.unwatch(dirParam(p)) }));
  control.register('watch-list', () => ({ folders: watch.list() }));
}
