import { BUILD_LABEL } from '../build.js';
import type { DiskStatus } from '../guard/status.js';
import type { FolderView } from '../watch/service.js';

// `grove status` of a running cell (docs/design.md §5): what the control command `status`
// answers. Each figure comes from the part that owns it; this module only assembles them.

export interface CellStatus {
  running: true;
  id: string;
  name: string;
  api_url: string;
  routes: string[];
  peers: number;
  objects: number;
  bytes: number;
  build: string;
  pid: number;
  /** Own chunks and manifests below the replication factor. */
  at_risk: number;
  /** Free space on the home's disk and the reserve kept for this cell. */
  disk?: DiskStatus;
  /** The running build (src/update/running.ts) and its watchdog, if any (src/watchdog/). */
  version?: string;
  build_hash?: string | null;
  supervised?: boolean;
  restarts?: number;
  /** The web dashboard's URL, null when it is not served. */
  dashboard_url?: string | null;
  /** Watched folders: state, and the progress of a scan under way (src/watch/). */
  watch?: FolderView[];
  /** Other features' own figures. */
  [extra: string]: unknown;
}

/** A source of extra status fields (a feature's own figures), merged into the answer. */
export type StatusSource = () => Record<string, unknown>;

export interface StatusInputs {
  id: string;
  name: string;
  apiUrl: () => string;
  routes: () => string[];
  peerCount: () => number;
  totals: () => { objects: number; bytes: number };
  atRisk: () => number;
  extra?: readonly StatusSource[];
}

export function cellStatus(i: StatusInputs): CellStatus {
  const totals = i.totals();
  const base: CellStatus = {
    running: true,
    id: i.id,
    name: i.name,
    api_url: i.apiUrl(),
    routes: i.routes(),
    peers: i.peerCount(),
    objects: totals.objects,
    bytes: totals.bytes,
    build: BUILD_LABEL,
    pid: process.pid,
    at_risk: i.atRisk(),
  };
  return Object.assign({}, ...(i.extra ?? []).map((s) => s()), base) as CellStatus;
}
