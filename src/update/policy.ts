import type { ReleaseManifest } from './manifest.js';
import { compareVersions, parseVersion } from './version.js';

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
