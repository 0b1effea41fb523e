// Syncthing 1.x as the reference for cell-to-cell sync: two instances with their own homes on
// loopback, configured for a closed room (no discovery, relays, NAT, STUN, upgrades or
// reporting, normal CPU priority like Grove), driven through their REST API.

import { type ChildProcess } from 'node:child_process';
import { createWriteStream, linkSync, readFileSync, readdirSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, join } from 'node:path';
import { once } from 'node:events';
import { TimeoutError, freePort, run, stopChild, treePeakRss, type Reaper } from './lib.js';

export const SYNCTHING = 'syncthing';
const FOLDER = 'bench';

export interface InstanceConfig {
  guiPort: number;
  listenPort: number;
  apiKey: string;
}

/**
 * The generated config.xml with the bench's settings: GUI/REST on 127.0.0.1 with a known API
 * key, one loopback listen address, and everything that would reach beyond the machine or
 * change speed behind our back turned off. Throws if an element to change is missing, so a
 * Syncthing whose config looks different fails loudly instead of running with defaults.
 */
export function configureSyncthingXml(xml: string, c: InstanceConfig): string {
  const set = (s: string, re: RegExp, to: string, what: string): string => {
    if (!re.test(s)) throw new Error(`syncthing config.xml has no ${what}`);
    return s.replace(re, to);
  };
  let s = xml;
  s = set(s, /(<gui\b[^>]*>[\s\S]*?<address>)[^<]*(<\/address>)/, `$1127.0.0.1:${c.guiPort}$2`, 'gui address');
  s = set(s, /(<gui\b[^>]*>[\s\S]*?)<apikey>[^<]*<\/apikey>/, `$1<apikey>${c.apiKey}</apikey>`, 'gui apikey');
  s = set(s, /<listenAddress>[^<]*<\/listenAddress>/, `<listenAddress>tcp://127.0.0.1:${c.listenPort}</listenAddress>`, 'listenAddress');
  const options: [string, string][] = [
    ['globalAnnounceEnabled', 'false'],
    ['localAnnounceEnabled', 'false'],
    ['relaysEnabled', 'false'],
    ['natEnabled', 'false'],
    ['startBrowser', 'false'],
    ['autoUpgradeIntervalH', '0'],
    ['urAccepted', '-1'],
    ['crashReportingEnabled', 'false'],
    // Syncthing lowers its own CPU priority by default; Grove does not, so neither may here.
    ['setLowPriority', 'false'],
    // 0 turns STUN off.
    ['stunKeepaliveStartS', '0'],
  ];
  for (const [k, v] of options) s = set(s, new RegExp(`<${k}>[^<]*</${k}>`), `<${k}>${v}</${k}>`, k);
  return s;
}

/** `syncthing --version` (1.x is what the targets were set against). */
export function syncthingVersion(): string {
  return run(SYNCTHING, ['--version']).trim().split(' ').slice(0, 2).join(' ');
}

interface Event { id: number; type: string; data: Record<string, unknown> | null }

export class SyncthingInstance {
  private child: ChildProcess | undefined;
  id = '';
  readonly folder: string;

  private constructor(readonly home: string, readonly cfg: InstanceConfig, private readonly reaper: Reaper) {
    this.folder = join(home, 'folder');
  }

  /** Generates keys and config in `home` and starts `syncthing serve` on loopback. */
  static async start(home: string, reaper: Reaper, timeoutMs = 60_000): Promise<SyncthingInstance> {
    const cfg: InstanceConfig = { guiPort: await freePort(), listenPort: await freePort(), apiKey: randomBytes(16).toString('hex') };
    run(SYNCTHING, ['generate', `--home=${home}`, '--no-default-folder', '--skip-port-probing']);
    const path = join(home, 'config.xml');
    writeFileSync(path, configureSyncthingXml(readFileSync(path, 'utf8'), cfg));
    mkdirSync(join(home, 'folder'), { recursive: true });
    const st = new SyncthingInstance(home, cfg, reaper);
    const log = createWriteStream(join(home, 'syncthing.log'));
    st.child = reaper.spawn(SYNCTHING, ['serve', `--home=${home}`, '--no-browser', '--no-restart', '--no-upgrade', '--logfile=-'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, STNODEFAULTFOLDER: '1', STNOUPGRADE: '1', STNORESTART: '1' },
    });
    st.child.stdout!.pipe(log);
    st.child.stderr!.pipe(log);
    const exited = once(st.child, 'exit').then(([code]) => { throw new Error(`syncthing exited (${String(code)}); see ${join(home, 'syncthing.log')}`); });
    exited.catch(() => {});
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await Promise.race([st.get<{ myID: string }>('/rest/system/status').catch(() => undefined), exited]);
      if (status) {
        st.id = status.myID;
        return st;
      }
      if (Date.now() > deadline) throw new TimeoutError(`syncthing did not answer on 127.0.0.1:${cfg.guiPort} within ${timeoutMs / 1000} s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  get pid(): number {
    return this.child!.pid!;
  }

  /** Peak RSS of the Syncthing processes (its supervisor and the worker it runs), in bytes. */
  peakRss(): number | undefined {
    return treePeakRss(this.pid);
  }

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs = 30_000): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.cfg.guiPort}${path}`, {
      method,
      headers: { 'X-API-Key': this.cfg.apiKey, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(Math.ceil(timeoutMs)),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`syncthing ${method} ${path}: HTTP ${res.status} ${text.trim().slice(0, 200)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  get<T>(path: string, timeoutMs?: number): Promise<T> {
    return this.request<T>('GET', path, undefined, timeoutMs);
  }

  async addPeer(peer: SyncthingInstance): Promise<void> {
    await this.request('POST', '/rest/config/devices', { deviceID: peer.id, name: basename(peer.home), addresses: [`tcp://127.0.0.1:${peer.cfg.listenPort}`] });
  }

  /** Shares the bench folder with `peer`; scans only when asked (no watcher, no periodic scan). */
  async shareFolder(peer: SyncthingInstance): Promise<void> {
    await this.request('POST', '/rest/config/folders', {
      id: FOLDER, label: FOLDER, path: this.folder, type: 'sendreceive',
      devices: [{ deviceID: this.id }, { deviceID: peer.id }],
      fsWatcherEnabled: false, rescanIntervalS: 0,
    });
  }

  async connectedTo(peer: SyncthingInstance): Promise<boolean> {
    const c = await this.get<{ connections: Record<string, { connected: boolean }> }>('/rest/system/connections');
    return c.connections[peer.id]?.connected === true;
  }

  /** The folder has finished its first scan and is idle (a manual scan asked for earlier may be swallowed by the first one). */
  async folderReady(): Promise<boolean> {
    const stats = await this.get<Record<string, { lastScan?: string }>>('/rest/stats/folder').catch(() => undefined);
    const scanned = Date.parse(stats?.[FOLDER]?.lastScan ?? '') > Date.parse('2000-01-01T00:00:00Z');
    if (!scanned) return false;
    const s = await this.get<{ state: string }>(`/rest/db/status?folder=${FOLDER}`).catch(() => undefined);
    return s?.state === 'idle';
  }

  /** Scans the folder now; resolves when the scan is done. */
  async scan(timeoutMs: number): Promise<void> {
    await this.request('POST', `/rest/db/scan?folder=${FOLDER}`, undefined, timeoutMs);
  }

  /** Creates the event subscription that `waitComplete` reads, and returns the last event id. */
  async subscribe(): Promise<number> {
    const evs = await this.get<Event[]>(`/rest/events?events=${EVENTS}&since=0&limit=1&timeout=0`);
    return evs.at(-1)?.id ?? 0;
  }

  /**
   * Waits (long-polling `/rest/events`) until this device's copy of the folder is complete:
   * completion 100 % with `files` items and `bytes` bytes in the global state. Returns the
   * moment (performance.now()) the events that completed it arrived.
   */
  async waitComplete(since: number, files: number, bytes: number, deadline: number): Promise<number> {
    let last = since;
    let finished = 0;
    for (;;) {
      const left = deadline - performance.now();
      if (left <= 0) throw new TimeoutError(`syncthing did not complete the folder in time (${finished}/${files} files finished)`);
      const wait = Math.max(1, Math.min(5, Math.floor(left / 1000)));
      const evs = await this.get<Event[]>(`/rest/events?events=${EVENTS}&since=${last}&timeout=${wait}`, (wait + 30) * 1000);
      const at = performance.now();
      let check = evs.length === 0;
      for (const e of evs) {
        last = Math.max(last, e.id);
        if (e.data?.folder !== FOLDER) continue;
        if (e.type === 'ItemFinished') {
          if (e.data.error) throw new Error(`syncthing could not sync ${String(e.data.item)}: ${String(e.data.error)}`);
          finished++;
        } else check = true; // StateChanged / FolderSummary
      }
      if (!check && finished < files) continue;
      const c = await this.get<{ completion: number; globalItems: number; globalBytes: number }>(`/rest/db/completion?folder=${FOLDER}`);
      if (c.completion === 100 && c.globalItems === files && c.globalBytes === bytes) return at;
    }
  }

  /** Regular files in the folder and their total size (to check what arrived). */
  folderContents(): { files: number; bytes: number } {
    let files = 0;
    let bytes = 0;
    for (const n of readdirSync(this.folder)) {
      const st = statSync(join(this.folder, n));
      if (st.isFile()) {
        files++;
        bytes += st.size;
      }
    }
    return { files, bytes };
  }

  /** Hard-links `files` into the folder (same pages in the page cache as the source). */
  linkIn(files: string[]): void {
    for (const f of files) linkSync(f, join(this.folder, basename(f)));
  }

  async stop(): Promise<void> {
    if (!this.child) return;
    const child = this.child;
    this.child = undefined;
    await this.request('POST', '/rest/system/shutdown', undefined, 5_000).catch(() => {});
    await stopChild(child, 10_000);
    this.reaper.kill(child); // the supervisor's worker, if it lingers
  }
}

const EVENTS = 'ItemFinished,StateChanged,FolderSummary';

/** Two instances that know each other and share the bench folder, connected and idle. */
export async function startSyncthingPair(base: string, reaper: Reaper, timeoutMs = 60_000): Promise<[SyncthingInstance, SyncthingInstance]> {
  const a = await SyncthingInstance.start(join(base, 'st-a'), reaper, timeoutMs);
  let b: SyncthingInstance | undefined;
  try {
    b = await SyncthingInstance.start(join(base, 'st-b'), reaper, timeoutMs);
    await a.addPeer(b);
    await b.addPeer(a);
    await a.shareFolder(b);
    await b.shareFolder(a);
    const deadline = Date.now() + timeoutMs;
    while (!((await a.connectedTo(b)) && (await b.connectedTo(a)) && (await a.folderReady()) && (await b.folderReady()))) {
      if (Date.now() > deadline) throw new TimeoutError('the two syncthing instances did not connect on loopback in time');
      await new Promise((r) => setTimeout(r, 100));
    }
    return [a, b];
  } catch (e) {
    await Promise.all([a.stop(), b?.stop()]);
    throw e;
  }
}
