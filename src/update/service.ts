import { createWriteStream, mkdirSync, copyFileSync, renameSync, unlinkSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { PeerClient } from '../net/client.js';
import { GroveError, badInput, notFound, describeError } from '../errors.js';
import { tempPathFor, fsyncDirSync } from '../home/atomic.js';
import { isHash } from '../crypto/encoding.js';
import { MAX_MANIFEST_BYTES, parseManifest, type ReleaseManifest } from './manifest.js';
import { HEADER_BYTES } from './bundle.js';
import { bundlesToDrop, type UpdateFacts } from './policy.js';
import { checkManifest, expectSameManifest, refuse, verifyBundle } from './verify.js';
import { updatePaths, bundlePath, type UpdatePaths } from './layout.js';
import { readState, updateState, type HeldBuild, type UpdateState } from './state.js';
import type { RunningBuild } from './running.js';
import { compareVersions, parseVersion } from './version.js';
import { EXIT_UPDATE } from '../watchdog/exit-codes.js';

// The cell's side of updates (docs/updates.md): import a bundle, announce what it holds to
// peers, fetch newer trusted builds from peers in the sync round, list offers, accept one.
// Installing, probation and rollback are the watchdog's (src/watchdog/).

/** How many held builds GET /api/build announces. */
export const MAX_ANNOUNCED = 4;
export const MAX_BUILD_INFO_BYTES = MAX_ANNOUNCED * (MAX_MANIFEST_BYTES + 256) + 1024;

export interface BuildInfo {
  running: RunningBuild;
  available: ReleaseManifest[];
}

export interface UpdateDeps {
  home: string;
  update: () => { trusted_keys: string[]; max_bundle_bytes: number };
  clock: () => number;
  log: Logger;
  running: RunningBuild;
  supervised: boolean;
  client: Pick<PeerClient, 'call' | 'download'>;
  /** Asks the process to stop cleanly and exit with `code` (the cell's `grove start`). */
  requestExit?: (code: number) => void;
}

export interface OfferView {
  version: string;
  build_hash: string;
  from: string;
  signed_by: string;
  state: HeldBuild['state'];
  reason?: string;
}

export class UpdateService {
  readonly paths: UpdatePaths;

  constructor(private readonly deps: UpdateDeps) {
    this.paths = updatePaths(deps.home);
  }

  facts(opts: { allowMajor?: boolean } = {}, state: UpdateState = readState(this.paths)): UpdateFacts {
    const u = this.deps.update();
    return {
      now: this.deps.clock(),
      trustedKeys: u.trusted_keys,
      maxBundleBytes: u.max_bundle_bytes,
      running: this.deps.running.version,
      highestAccepted: state.highest_accepted ?? undefined,
      bad: Object.values(state.builds).filter((b) => b.state === 'bad').map((b) => b.manifest.build_hash),
      platform: process.platform,
      arch: process.arch,
      nodeAbi: process.versions.modules,
      allowMajor: opts.allowMajor,
    };
  }

  /** `grove update import`: verify, then keep it in the home. A refusal stores nothing. */
  async importBundle(file: string, opts: { allowMajor?: boolean; signal?: AbortSignal } = {}): Promise<OfferView> {
    const state = readState(this.paths);
    const v = await verifyBundle(file, this.facts(opts, state), opts.signal);
    const existing = state.builds[v.manifest.build_hash];
    if (existing) return view(v.manifest.build_hash, existing);
    mkdirSync(this.paths.bundles, { recursive: true });
    const dst = bundlePath(this.paths, v.manifest.build_hash);
    const tmp = tempPathFor(dst);
    try {
      copyFileSync(file, tmp);
      // Check the copy we keep, not only the file we were given (it could change under us).
      const again = await verifyBundle(tmp, this.facts(opts, state), opts.signal);
      expectSameManifest(v.manifest, again.manifest);
      renameSync(tmp, dst);
      fsyncDirSync(this.paths.bundles);
    } catch (e) {
      try { unlinkSync(tmp); } catch { /* not there */ }
      throw e;
    }
    return this.record(v.manifest, v.fileSha256, 'import');
  }

  private record(m: ReleaseManifest, fileSha256: string, from: string): OfferView {
    const held: HeldBuild = { manifest: m, file_sha256: fileSha256, from, state: 'offered', received_at: this.deps.clock() };
    updateState(this.paths, (s) => { s.builds[m.build_hash] = held; });
    this.deps.log.info({ version: m.version, build_hash: m.build_hash, from }, 'update offered');
    this.pruneBundles();
    return view(m.build_hash, held);
  }

  /**
   * Deletes the bundles the retention policy no longer keeps (policy.ts `bundlesToDrop`);
   * their records stay. Runs when the cell starts and after each new offer. Returns the
   * build hashes whose bundles went.
   */
  pruneBundles(): string[] {
    const s = readState(this.paths);
    const running = { hash: this.deps.running.build_hash ?? undefined, version: parseVersion(this.deps.running.version)! };
    const builds = Object.entries(s.builds).map(([hash, b]) => ({ hash, version: parseVersion(b.manifest.version)!, state: b.state }));
    const dropped: string[] = [];
    for (const hash of bundlesToDrop(builds, running, s.pending)) {
      try {
        unlinkSync(bundlePath(this.paths, hash));
        dropped.push(hash);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.deps.log.warn({ build_hash: hash, err: describeError(e) }, 'could not delete an old update bundle');
      }
    }
    if (dropped.length) this.deps.log.info({ dropped }, 'old update bundles deleted');
    return dropped;
  }

  list(): { current: RunningBuild; supervised: boolean; offers: OfferView[] } {
    const s = readState(this.paths);
    const offers = Object.entries(s.builds).map(([h, b]) => view(h, b));
    offers.sort((a, b) => compareVersions(parseVersion(b.version)!, parseVersion(a.version)!));
    return { current: this.deps.running, supervised: this.deps.supervised, offers };
  }

  /**
   * `grove update --accept [HASH]`: re-checks the build and marks it accepted. Under the
   * watchdog the cell then stops with EXIT_UPDATE and the watchdog installs it; otherwise the
   * next `grove watchdog` start installs it.
   */
  accept(hash?: string, opts: { allowMajor?: boolean } = {}): { accepted: OfferView; restarting: boolean } {
    const s = readState(this.paths);
    let chosen: string | undefined = hash;
    if (chosen !== undefined) {
      if (!isHash(chosen)) throw badInput('BUILD_HASH must be 64 hex characters');
      if (!s.builds[chosen]) throw notFound(`no build ${chosen.slice(0, 12)} here (see \`grove update\`)`);
    } else {
      const offered = Object.entries(s.builds).filter(([, b]) => b.state === 'offered' || b.state === 'accepted')
        .sort(([, a], [, b]) => compareVersions(parseVersion(b.manifest.version)!, parseVersion(a.manifest.version)!));
      chosen = offered[0]?.[0];
      if (!chosen) throw notFound('no update on offer');
    }
    const b = s.builds[chosen]!;
    if (b.state === 'bad') throw refuse(`build ${b.manifest.version} failed here before and is marked bad`, 'bad-build');
    if (b.state === 'installed') throw new GroveError('CONFLICT', `build ${b.manifest.version} is already installed`);
    checkManifest(b.manifest, this.facts(opts, s));
    if (!existsSync(bundlePath(this.paths, chosen))) throw new GroveError('CORRUPT', `the bundle of build ${b.manifest.version} is missing from ${this.paths.bundles}`);
    for (const other of Object.values(s.builds)) if (other.state === 'accepted') other.state = 'offered';
    b.state = 'accepted';
    s.pending = chosen;
    updateState(this.paths, (fresh) => { Object.assign(fresh, s); });
    this.deps.log.info({ version: b.manifest.version, build_hash: chosen }, 'update accepted');
    const restarting = this.deps.supervised && !!this.deps.requestExit;
    if (restarting) {
      // Let the control answer reach the CLI before the cell stops.
      setTimeout(() => this.deps.requestExit!(EXIT_UPDATE), 100).unref();
    }
    return { accepted: view(chosen, b), restarting };
  }

  /** GET /api/build: the running build and the good builds this cell can hand out. */
  buildInfo(): BuildInfo {
    const s = readState(this.paths);
    const now = this.deps.clock();
    const available = Object.values(s.builds)
      .filter((b) => b.state !== 'bad' && b.manifest.expires_at > now)
      .map((b) => b.manifest)
      .sort((a, b) => compareVersions(parseVersion(b.version)!, parseVersion(a.version)!))
      .slice(0, MAX_ANNOUNCED);
    return { running: this.deps.running, available };
  }

  /** GET /api/build/bundle?hash=: the file to stream and the SHA-256 to sign it with. */
  bundleFor(hash: string): { path: string; sha256: string; size: number } {
    const b = readState(this.paths).builds[hash];
    const path = bundlePath(this.paths, hash);
    if (!b || b.state === 'bad' || !existsSync(path)) throw notFound('no such build here');
    return { path, sha256: b.file_sha256, size: b.manifest.size };
  }

  /** The sync round's update exchange with one reachable peer. */
  async exchange(route: { peerId: string; url: string }, signal?: AbortSignal): Promise<OfferView | undefined> {
    const res = await this.deps.client.call<unknown>(route.url, route.peerId, 'GET', '/api/build', { signal, maxBytes: MAX_BUILD_INFO_BYTES });
    const announced = parseAnnounced(res.data);
    const state = readState(this.paths);
    const facts = this.facts({}, state);
    for (const m of announced) {
      if (state.builds[m.build_hash]) continue;
      try {
        checkManifest(m, facts);
      } catch (e) {
        this.deps.log.debug({ peer: route.peerId, version: m.version, reason: describeError(e) }, 'peer build not taken');
        continue;
      }
      // The newest acceptable build only: anything older would be superseded anyway.
      return this.fetchFrom(route, m, facts, signal);
    }
    return undefined;
  }

  private async fetchFrom(route: { peerId: string; url: string }, m: ReleaseManifest, facts: UpdateFacts, signal?: AbortSignal): Promise<OfferView> {
    mkdirSync(this.paths.bundles, { recursive: true });
    const dst = bundlePath(this.paths, m.build_hash);
    const tmp = tempPathFor(dst);
    const cap = HEADER_BYTES + MAX_MANIFEST_BYTES + m.size;
    try {
      const { result: fileSha256 } = await this.deps.client.download(route.url, route.peerId, `/api/build/bundle?hash=${m.build_hash}`, (body, expected) => saveCapped(body, tmp, cap, expected), {
        signal,
        // Bounded in time too: a minute plus one second per 256 KiB (a slow but honest link).
        timeoutMs: 60_000 + Math.ceil(m.size / 262_144) * 1000,
      });
      const v = await verifyBundle(tmp, facts, signal);
      expectSameManifest(m, v.manifest);
      if (v.fileSha256 !== fileSha256) throw new GroveError('CORRUPT', 'bundle changed while being checked');
      renameSync(tmp, dst);
      fsyncDirSync(this.paths.bundles);
      return this.record(v.manifest, v.fileSha256, route.peerId);
    } catch (e) {
      try { unlinkSync(tmp); } catch { /* not there */ }
      throw e;
    }
  }
}

function view(hash: string, b: HeldBuild): OfferView {
  return {
    version: b.manifest.version, build_hash: hash, from: b.from, signed_by: b.manifest.signed_by, state: b.state,
    ...(b.reason ? { reason: b.reason } : {}),
  };
}

/** A peer's GET /api/build answer: malformed entries are dropped, not fatal. */
export function parseAnnounced(data: unknown): ReleaseManifest[] {
  if (!data || typeof data !== 'object') throw new GroveError('PEER_ERROR', 'peer sent malformed build info');
  const list = (data as { available?: unknown }).available;
  if (!Array.isArray(list)) throw new GroveError('PEER_ERROR', 'peer sent malformed build info');
  const out: ReleaseManifest[] = [];
  for (const item of list.slice(0, MAX_ANNOUNCED)) {
    try {
      out.push(parseManifest(item));
    } catch { /* skip */ }
  }
  return out.sort((a, b) => compareVersions(parseVersion(b.version)!, parseVersion(a.version)!));
}

/** Writes a streamed body to `file` (exclusive), refusing more than `cap` bytes; checks its SHA-256. */
async function saveCapped(body: Readable, file: string, cap: number, expected: string): Promise<string> {
  const hash = createHash('sha256');
  let n = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > cap) {
        cb(new GroveError('TOO_LARGE', 'peer sent a bundle larger than its manifest says'));
        return;
      }
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  await pipeline(body, meter, createWriteStream(file, { flags: 'wx', mode: 0o644 }));
  const got = hash.digest('hex');
  if (got !== expected) throw new GroveError('PEER_ERROR', 'bundle body does not match its signed hash');
  return got;
}
