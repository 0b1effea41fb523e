import type { Cell } from '../cell.js';
import { fetchFromPeers } from '../sync/repair.js';
import { restoreShared } from '../share/get.js';
import type { DashboardComponents } from './server.js';

// The dashboard's collaborators, taken from a cell (the one place that knows the Cell's shape).

export function dashboardComponents(cell: Cell): DashboardComponents {
  return {
    home: cell.home,
    control: cell.control,
    events: cell.events,
    clock: cell.clock,
    log: cell.log,
    peerHealth: (id) => cell.records.peerHealth(id),
    fetchObject: (hash) => fetchFromPeers(cell.sync.fetch(), hash),
    restoreShared: (held, out, o) => restoreShared(cell, held, out, o),
    syncState: () => ({ last: cell.sync.service.last, nextAt: cell.loop('sync')?.nextRunAt, busy: cell.sync.service.busy }),
  };
}
