import type { ReleaseManifest } from './manifest.js';
import { compareVersions, parseVersion, type Version } from './version.js';

// Whether a verified-signature manifest may be offered, imported or accepted here
// (docs/updates.md "Trust and anti-rollback"). Pure: every fact comes in as plain data.

export interface UpdateFacts {
  now: number;
  trustedKeys: readonly string[];
  maxBundleBytes: number;
  /** The running build's version. */
  running: string;
  /** The highest version ever accepted here (kept on disk), if any. */
  highestAccepted?: string | undefined;
  /** Builds marked bad (they failed probation here). */
  bad: readonly string[];
  platform: string;
  arch: string;
  nodeAbi: string;
  /** Allow a build whose major version is above the running one's. */
  allowMajor?: boolean;
}

export type Refusal =
  | 'untrusted' | 'expired' | 'oversized' | 'not-newer' | 'replay' | 'bad-build' | 'major' | 'platform' | 'abi';

export interface Verdict {
  ok: boolean;
  reason?: Refusal;
  message?: string;
}

const no = (reason: Refusal, message: string): Verdict => ({ ok: false, reason, message });

/** The signature itself is checked separately (manifestSignatureValid); this is policy. */
export function judgeManifest(m: ReleaseManifest, f: UpdateFacts): Verdict {
  if (!f.trustedKeys.includes(m.signed_by)) return no('untrusted', `build ${m.version} is signed by ${m.signed_by.slice(0, 12)}…, which is not in update.trusted_keys`);
  if (m.expires_at <= f.now) return no('expired', `build ${m.version} expired at ${new Date(m.expires_at).toISOString()}`);
  if (m.size > f.maxBundleBytes) return no('oversized', `build ${m.version} is ${m.size} bytes, over update.max_bundle_bytes (${f.maxBundleBytes})`);
  if (f.bad.includes(m.build_hash)) return no('bad-build', `build ${m.version} (${m.build_hash.slice(0, 12)}) failed here before and is marked bad`);
  if (m.platform !== f.platform || m.arch !== f.arch) return no('platform', `build ${m.version} is for ${m.platform}-${m.arch}, this machine is ${f.platform}-${f.arch}`);
  if (m.node_abi !== f.nodeAbi) return no('abi', `build ${m.version} carries native modules for Node ABI ${m.node_abi}, this Node has ABI ${f.nodeAbi}`);
  const v = parseVersion(m.version)!;
  const running = parseVersion(f.running);
  if (running && compareVersions(v, running) <= 0) return no('not-newer', `build ${m.version} is not newer than the running ${f.running}`);
  const highest = parseVersion(f.highestAccepted);
  if (highest && compareVersions(v, highest) <= 0) return no('replay', `build ${m.version} is not newer than ${f.highestAccepted}, the highest ever accepted here`);
  if (running && v.major > running.major && !f.allowMajor) return no('major', `build ${m.version} crosses a major version from ${f.running} (accept with --allow-major)`);
  return { ok: true };
}

/** Offered builds newer than the running one whose bundles are kept (the newest ones). */
export const KEEP_OFFERED_BUNDLES = 2;

/**
 * Which held bundles may be deleted (retention): a cell keeps the bundle of the build it
 * runs (peers fetch the update from it), the one accepted and waiting for the watchdog, and
 * the newest few offers above the running version; everything else (older or bad builds,
 * superseded offers) only takes disk. The records stay in the state for anti-rollback.
 */
export function bundlesToDrop(
  builds: { hash: string; version: Version; state: 'offered' | 'accepted' | 'installed' | 'bad' }[],
  running: { hash?: string; version: Version },
  pending: string | null,
): string[] {
  const keep = new Set<string>();
  if (running.hash) keep.add(running.hash);
  if (pending) keep.add(pending);
  for (const b of builds) if (b.state === 'accepted') keep.add(b.hash);
  builds
    .filter((b) => b.state === 'offered' && compareVersions(b.version, running.version) > 0)
    .sort((a, b) => compareVersions(b.version, a.version))
    .slice(0, KEEP_OFFERED_BUNDLES)
    .forEach((b) => keep.add(b.hash));
  return builds.filter((b) => !keep.has(b.hash)).map((b) => b.hash).sort();
}
