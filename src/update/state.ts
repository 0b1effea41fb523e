import { readFileSync, mkdirSync } from 'node:fs';
import { writeFileAtomicSync } from '../home/atomic.js';
import { GroveError } from '../errors.js';
import { isHash } from '../crypto/encoding.js';
import { parseManifest, type ReleaseManifest } from './manifest.js';
import { parseVersion } from './version.js';
import type { UpdatePaths } from './layout.js';

// HOME/update/state.json (docs/updates.md "State"): the builds this cell holds, their state,
// the build accepted and waiting for the watchdog, and the highest version ever accepted
// (anti-rollback). Written atomically; only one process writes it at a time (the cell while it
// runs, the watchdog while the cell is stopped, the CLI when neither runs).

export type BuildState = 'offered' | 'accepted' | 'installed' | 'bad';

export interface HeldBuild {
  manifest: ReleaseManifest;
  /** SHA-256 of the whole bundle file (what GET /api/build/bundle signs). */
  file_sha256: string;
  /** 'import' or the cell ID it came from. */
  from: string;
  state: BuildState;
  received_at: number;
  /** Why it was marked bad. */
  reason?: string;
}

export interface UpdateState {
  highest_accepted: string | null;
  /** Accepted, waiting to be installed by the watchdog. */
  pending: string | null;
  builds: Record<string, HeldBuild>;
}

const STATES: BuildState[] = ['offered', 'accepted', 'installed', 'bad'];

export function emptyState(): UpdateState {
  return { highest_accepted: null, pending: null, builds: {} };
}

export function readState(p: UpdatePaths): UpdateState {
  let text: string;
  try {
    text = readFileSync(p.state, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw e;
  }
  try {
    const raw = JSON.parse(text) as UpdateState;
    const s = emptyState();
    if (raw.highest_accepted !== null && !parseVersion(raw.highest_accepted)) throw new Error('highest_accepted');
    s.highest_accepted = raw.highest_accepted;
    if (raw.pending !== null && !isHash(raw.pending)) throw new Error('pending');
    s.pending = raw.pending;
    for (const [hash, b] of Object.entries(raw.builds ?? {})) {
      if (!isHash(hash) || !STATES.includes(b.state) || typeof b.file_sha256 !== 'string' || typeof b.from !== 'string') throw new Error('build');
      const manifest = parseManifest(b.manifest);
      if (manifest.build_hash !== hash) throw new Error('build hash');
      s.builds[hash] = { ...b, manifest };
    }
    return s;
  } catch {
    throw new GroveError('CORRUPT', `${p.state} is damaged; move it away to start the update state afresh (the highest accepted version is in it)`);
  }
}

export function writeState(p: UpdatePaths, s: UpdateState): void {
  mkdirSync(p.dir, { recursive: true });
  writeFileAtomicSync(p.state, JSON.stringify(s, null, 2) + '\n', 0o644);
}

/** Reads, changes and writes the state. */
export function updateState<T>(p: UpdatePaths, fn: (s: UpdateState) => T): T {
  const s = readState(p);
  const r = fn(s);
  writeState(p, s);
  return r;
}
