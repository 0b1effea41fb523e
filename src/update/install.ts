import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, symlinkSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fsyncDirSync } from '../home/atomic.js';
import { loadConfig } from '../home/config.js';
import { homePaths } from '../home/paths.js';
import { describeError, GroveError } from '../errors.js';
import { extractPayload } from './bundle.js';
import { bundlePath, updatePaths, type UpdatePaths } from './layout.js';
import { readState, updateState } from './state.js';
import { verifyBundle } from './verify.js';
import { BUILD_HASH_FILE, readBuildHash } from './running.js';
import type { UpdateFacts } from './policy.js';

// The watchdog's side of an update (docs/updates.md "Install and roll back"): install the
// accepted build beside the current one under HOME/builds/<build_hash>/, switch the `current`
// link atomically (a new link renamed over the old), keep `previous`; commit after probation,
// or switch back and mark the build bad. The watchdog runs none of this code in the child.

export interface Installed {
  hash: string;
  version: string;
  root: string;
  previousRoot: string;
}

/** The version in `<root>/package.json`, or '0.0.0'. */
export function treeVersion(root: string): string {
  try {
    const v = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** The tree the cell runs: where HOME/builds/current points, else the watchdog's own installation. */
export function currentRoot(home: string, baseRoot: string): string {
  const p = updatePaths(home);
  try {
    const r = realpathSync(p.current);
    if (existsSync(join(r, 'bin', 'grove'))) return r;
  } catch { /* no installed build */ }
  return baseRoot;
}

/** Points `link` at `target` atomically (rename of a fresh link over the old one). */
export function switchLink(link: string, target: string): void {
  const tmp = `${link}.tmp-${randomBytes(6).toString('hex')}`;
  symlinkSync(target, tmp);
  renameSync(tmp, link);
  fsyncDirSync(join(link, '..'));
}

function markBad(p: UpdatePaths, hash: string, reason: string): void {
  updateState(p, (s) => {
    const b = s.builds[hash];
    if (b) {
      b.state = 'bad';
      b.reason = reason.slice(0, 300);
    }
    if (s.pending === hash) s.pending = null;
  });
}

/**
 * Installs the pending accepted build, if any: re-verified in full against the current
 * config and the running tree's version, extracted, then switched to. A build that fails here
 * is marked bad and nothing is switched.
 */
export async function installPending(home: string, baseRoot: string, log: (msg: string) => void, now: () => number = Date.now): Promise<Installed | undefined> {
  const p = updatePaths(home);
  const s = readState(p);
  const hash = s.pending;
  if (!hash) return undefined;
  const held = s.builds[hash];
  if (!held) {
    updateState(p, (st) => { st.pending = null; });
    return undefined;
  }
  const from = currentRoot(home, baseRoot);
  const config = loadConfig(homePaths(home).config);
  const facts: UpdateFacts = {
    now: now(), trustedKeys: config.update.trusted_keys, maxBundleBytes: config.update.max_bundle_bytes,
    running: treeVersion(from), highestAccepted: s.highest_accepted ?? undefined,
    bad: Object.values(s.builds).filter((b) => b.state === 'bad').map((b) => b.manifest.build_hash),
    platform: process.platform, arch: process.arch, nodeAbi: process.versions.modules, allowMajor: true, // the major step was allowed at acceptance
  };
  const dir = join(p.builds, hash);
  try {
    const v = await verifyBundle(bundlePath(p, hash), facts);
    if (readBuildHash(dir) !== hash) {
      mkdirSync(p.builds, { recursive: true });
      rmSync(dir, { recursive: true, force: true });
      const tmp = join(p.builds, `.tmp-${hash}-${randomBytes(4).toString('hex')}`);
      try {
        await extractPayload(bundlePath(p, hash), v.payloadOffset, tmp);
        writeFileSync(join(tmp, BUILD_HASH_FILE), `${hash}\n`, { mode: 0o644 });
        renameSync(tmp, dir);
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        throw e;
      }
    }
  } catch (e) {
    log(`build ${held.manifest.version} (${hash.slice(0, 12)}) not installed: ${describeError(e)}`);
    if (e instanceof GroveError) {
      markBad(p, hash, `install refused: ${describeError(e)}`); // the bundle itself is unacceptable
    } else {
      // A local failure (disk full, permissions): the build may be accepted again later.
      updateState(p, (st) => {
        const b = st.builds[hash];
        if (b) b.state = 'offered';
        st.pending = null;
      });
    }
    return undefined;
  }
  switchLink(p.previous, from);
  switchLink(p.current, dir);
  return { hash, version: held.manifest.version, root: dir, previousRoot: from };
}

/** Probation passed: the build is installed and its version the highest ever accepted. */
export function commitInstall(home: string, inst: Installed): void {
  const p = updatePaths(home);
  updateState(p, (s) => {
    const b = s.builds[inst.hash];
    if (b) b.state = 'installed';
    s.highest_accepted = inst.version;
    if (s.pending === inst.hash) s.pending = null;
  });
  // Keep the current and previous trees; older ones go.
  const real = (x: string) => { try { return realpathSync(x); } catch { return x; } };
  const keep = new Set([real(inst.root), real(inst.previousRoot)]);
  for (const name of readdirSync(p.builds)) {
    const full = join(p.builds, name);
    if (/^[0-9a-f]{64}$/.test(name) && !keep.has(real(full))) rmSync(full, { recursive: true, force: true });
  }
}

/** Probation failed: switch back to the previous tree and mark the build bad. */
export function rollBack(home: string, inst: Installed, reason: string): void {
  const p = updatePaths(home);
  switchLink(p.current, inst.previousRoot);
  markBad(p, inst.hash, reason);
}
