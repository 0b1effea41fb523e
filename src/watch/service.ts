import { EventEmitter } from 'node:events';
import { lstat, readdir } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import { isUtf8 } from 'node:buffer';
import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import type { Logger } from 'pino';
import type { Home } from '../home/home.js';
import type { LoopSpec } from '../daemon/loop.js';
import { addFile, type AddResult } from '../ingest/add.js';
import { SealPool } from '../ingest/pool.js';
import { GroveError, describeError } from '../errors.js';
import { closeForGood } from './chokidar.js';
import { ignoreMatcher } from './ignore.js';
import {
  indexEntry, indexOf, listFolders, markGone, planCatchUp, recordIngested, unchanged, folderCounts,
  type FileStamp, type WatchedFolder,
} from './folders.js';
import { rootStatus, unwatchRoot, watchLimitMessage, watchRoot } from './roots.js';

// The folder watcher (docs/design.md §5 `grove start` … "watcher"; docs/watch.md). For every watched
// root: a chokidar watcher turns file-system events into ingests after a settle delay; a
// catch-up scan at start (and on watcher errors, and every rescan period) ingests what the
// persisted index says changed; a root that becomes unavailable pauses its folder. Files
// that vanish stay in Grove and are marked gone at source. Ingests run one at a time through
// the real `grove add` pipeline (src/ingest/add.ts).

export interface WatchComponents {
  home: Home;
  clock: () => number;
  log: Logger;
  /** Registers a background loop with the cell (started and stopped with it). */
  addLoop: (spec: LoopSpec) => void;
}

export interface WatchInit {
  /** A file must stay unchanged this long before it is read (default config watch.settle_ms). */
  settleMs: number;
  /** Base-name glob patterns to skip (config watch.ignore). */
  ignore: string[];
  /** How often a paused root is checked for its return, and an active one for vanishing. */
  rootCheckMs?: number;
  /** Full rescan period (config watch.rescan_s), a safety net for missed events. */
  rescanMs: number;
  /** Progress lines during a long scan at most this often. */
  progressEveryMs?: number;
}

export type FolderState = 'starting' | 'scanning' | 'watching' | 'paused';

export interface ScanProgress {
  files_total: number;
  files_done: number;
  bytes_total: number;
  bytes_done: number;
}

export interface FolderView {
  root: string;
  state: FolderState | 'stopped';
  added_at: number;
  /** Files indexed, and how many of them are gone at source. */
  files: number;
  gone: number;
  /** Why the folder is paused, or the last watcher problem. */
  note: string | null;
  scan: ScanProgress | null;
}

export interface WatchEvents {
  ingested: [root: string, result: AddResult];
  gone: [root: string, path: string];
  paused: [root: string, why: string];
  scanned: [root: string];
}

interface Folder {
  spec: WatchedFolder;
  state: FolderState;
  note: string | null;
  watcher: FSWatcher | undefined;
  scan: ScanProgress | null;
  scanning: Promise<void> | undefined;
  rescanWanted: boolean;
}

interface Pending {
  timer: NodeJS.Timeout;
  stamp: FileStamp | undefined;
  gone: boolean;
}

export class WatchService extends EventEmitter<WatchEvents> {
  private readonly folders = new Map<string, Folder>();
  private readonly pending = new Map<string, Pending>();
  private readonly ignored: (name: string) => boolean;
  private readonly abort = new AbortController();
  private readonly tasks = new Set<Promise<void>>();
  private chain: Promise<void> = Promise.resolve();
  private pool: SealPool | undefined;
  private started = false;

  constructor(private readonly c: WatchComponents, private readonly init: WatchInit) {
    super();
    this.ignored = ignoreMatcher(init.ignore);
    c.addLoop({ name: 'watch-roots', intervalMs: init.rootCheckMs ?? 5_000, initialDelayMs: init.rootCheckMs ?? 5_000, run: (s) => this.checkRoots(s) });
    c.addLoop({ name: 'watch-rescan', intervalMs: init.rescanMs, initialDelayMs: init.rescanMs, run: (s) => this.rescanAll(s) });
  }

  /** Opens every watched folder (in the background: a long first scan never delays start). */
  start(): void {
    this.started = true;
    for (const f of listFolders(this.c.home.db)) this.spawn(`watching ${f.root}`, () => this.open(f));
  }

  async stop(): Promise<void> {
    this.started = false;
    this.abort.abort();
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    await Promise.all([...this.folders.values()].map((f) => this.closeWatcher(f)));
    await Promise.all([...this.tasks]);
    await this.chain.catch(() => {});
    await this.pool?.close();
    this.pool = undefined;
  }

  /** `grove watch DIR` on the running cell: records the root and starts watching it. */
  watch(dir: string): FolderView {
    const { root, added } = watchRoot(this.c.home.db, this.c.home.paths.root, dir, this.c.clock());
    const spec = listFolders(this.c.home.db).find((f) => f.root === root)!;
    if (added && this.started) this.spawn(`watching ${root}`, () => this.open(spec));
    return this.view(spec);
  }

  /** `grove unwatch DIR`: stops watching; every file stays in Grove. */
  async unwatch(dir: string): Promise<string> {
    const root = unwatchRoot(this.c.home.db, dir);
    const f = this.folders.get(root);
    if (f) {
      this.folders.delete(root);
      this.dropPending(root);
      await this.closeWatcher(f);
    }
    return root;
  }

  list(): FolderView[] {
    return listFolders(this.c.home.db).map((f) => this.view(f));
  }

  private view(spec: WatchedFolder): FolderView {
    const f = this.folders.get(spec.root);
    return {
      root: spec.root, state: f?.state ?? (this.started ? 'starting' : 'stopped'), added_at: spec.added_at,
      ...folderCounts(this.c.home.db, spec.root), note: f?.note ?? null, scan: f?.scan ? { ...f.scan } : null,
    };
  }

  private spawn(name: string, fn: () => Promise<void>): void {
    const task = fn().catch((e) => {
      if (!this.abort.signal.aborted) this.c.log.warn({ err: e }, `${name} failed: ${describeError(e)}`);
    });
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task));
  }

  /** Runs ingests one at a time (the seal pool has two workers; more would only queue). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    this.chain = run.then(() => {}, () => {});
    return run;
  }

  private async open(spec: WatchedFolder): Promise<void> {
    if (this.abort.signal.aborted) return;
    const f: Folder = this.folders.get(spec.root) ?? { spec, state: 'starting', note: null, watcher: undefined, scan: null, scanning: undefined, rescanWanted: false };
    this.folders.set(spec.root, f);
    f.state = 'starting';
    const rs = await rootStatus(spec);
    if (this.folders.get(spec.root) !== f || this.abort.signal.aborted) return; // unwatched meanwhile
    if (!rs.ok) return this.pause(f, rs.why);
    f.note = null;
    await this.closeWatcher(f);
    const w = chokidarWatch(spec.root, {
      ignoreInitial: true,
      followSymlinks: false,
      ignored: (p: string) => p !== spec.root && this.ignored(basename(p)),
    });
    f.watcher = w;
    w.on('add', (p) => this.touch(f, p));
    w.on('change', (p) => this.touch(f, p));
    w.on('unlink', (p) => this.touch(f, p));
    w.on('unlinkDir', (p) => this.touchTree(f, p));
    w.on('error', (e) => this.watcherError(f, e as NodeJS.ErrnoException));
    await new Promise<void>((resolve) => {
      w.once('ready', resolve);
      this.abort.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    if (this.abort.signal.aborted || f.watcher !== w || this.folders.get(spec.root) !== f) {
      if (f.watcher !== w) await closeForGood(w).catch(() => {});
      return;
    }
    await this.scan(f);
  }

  private async closeWatcher(f: Folder): Promise<void> {
    const w = f.watcher;
    f.watcher = undefined;
    if (w) await closeForGood(w).catch((e) => this.c.log.warn({ err: e }, `closing the watcher of ${f.spec.root} failed`));
  }

  private pause(f: Folder, why: string): void {
    if (f.state === 'paused') return;
    f.state = 'paused';
    f.note = `paused: ${why}`;
    f.scan = null;
    this.dropPending(f.spec.root);
    void this.closeWatcher(f);
    this.c.log.warn({ root: f.spec.root }, `watched folder ${f.spec.root} is paused: ${why}; its files stay in Grove and nothing is marked gone; it resumes when it is back`);
    this.emit('paused', f.spec.root, why);
  }

  private dropPending(root: string): void {
    for (const [path, p] of this.pending) {
      if (path.startsWith(root + sep)) {
        clearTimeout(p.timer);
        this.pending.delete(path);
      }
    }
  }

  /** Roots that vanished pause; paused roots that are back resume with a catch-up scan. */
  async checkRoots(signal: AbortSignal): Promise<void> {
    for (const spec of listFolders(this.c.home.db)) {
      if (signal.aborted) return;
      const f = this.folders.get(spec.root);
      const rs = await rootStatus(spec);
      if (!f) {
        if (rs.ok && this.started) this.spawn(`watching ${spec.root}`, () => this.open(spec));
        continue;
      }
      if (!rs.ok) this.pause(f, rs.why);
      else if (f.state === 'paused') {
        f.state = 'starting'; // one resume, however many checks run before it is under way
        this.c.log.info({ root: spec.root }, `watched folder ${spec.root} is back: resuming`);
        this.spawn(`resuming ${spec.root}`, () => this.open(spec));
      }
    }
  }

  /** The periodic safety-net rescan (catch-up over the index: cheap when nothing changed). */
  async rescanAll(signal: AbortSignal): Promise<void> {
    for (const f of this.folders.values()) {
      if (signal.aborted) return;
      if (f.state === 'watching') await this.scan(f);
    }
  }

  private watcherError(f: Folder, e: NodeJS.ErrnoException): void {
    const limit = watchLimitMessage(f.spec.root, e.code ?? '');
    if (limit) {
      f.note = limit;
      this.c.log.error({ root: f.spec.root, code: e.code }, limit);
      return;
    }
    this.c.log.warn({ root: f.spec.root, err: describeError(e) }, `watcher error on ${f.spec.root}: rescanning it`);
    if (f.state === 'watching') this.spawn(`rescanning ${f.spec.root}`, () => this.scan(f));
    else f.rescanWanted = true;
  }

  /** Every indexed file under a removed directory gets its gone check. */
  private touchTree(f: Folder, dir: string): void {
    if (dir === f.spec.root) {
      this.spawn(`checking ${dir}`, () => this.checkRoots(this.abort.signal));
      return;
    }
    for (const path of indexOf(this.c.home.db, f.spec.root).keys()) if (path.startsWith(dir + sep)) this.touch(f, path);
  }

  /**
   * An event on a path: (re)arms its settle timer. When it fires, the file is stat'ed; it is
   * read only once two checks a settle delay apart see the same size, mtime and inode and no
   * event came in between, so a file still being written is never ingested half-done.
   */
  private touch(f: Folder, path: string): void {
    if (f.state === 'paused' || this.abort.signal.aborted) return;
    const prev = this.pending.get(path);
    if (prev) clearTimeout(prev.timer);
    const p: Pending = { timer: setTimeout(() => void this.settle(f, path, p), this.init.settleMs), stamp: undefined, gone: false };
    this.pending.set(path, p);
  }

  private async settle(f: Folder, path: string, p: Pending): Promise<void> {
    if (this.pending.get(path) !== p || this.abort.signal.aborted) return;
    const stamp = await stampOf(path);
    if (this.pending.get(path) !== p) return; // a newer event re-armed it meanwhile
    const same = stamp === undefined ? p.gone : p.stamp !== undefined && sameStamp(p.stamp, stamp);
    if (!same) {
      p.stamp = stamp;
      p.gone = stamp === undefined;
      p.timer = setTimeout(() => void this.settle(f, path, p), this.init.settleMs);
      return;
    }
    this.pending.delete(path);
    if (stamp === undefined) await this.goneCheck(f, path);
    else await this.serial(() => this.ingest(f, path)).catch(() => {});
  }

  private async goneCheck(f: Folder, path: string): Promise<void> {
    const rs = await rootStatus(f.spec);
    if (!rs.ok) return this.pause(f, rs.why);
    if (f.state === 'paused' || (await stampOf(path)) !== undefined) return;
    if (markGone(this.c.home.db, path, this.c.clock())) {
      this.c.log.info({ root: f.spec.root, path }, `${path} was removed from its watched folder: it stays in Grove (gone at source)`);
      this.emit('gone', f.spec.root, path);
    }
  }

  private async ingest(f: Folder, path: string): Promise<void> {
    if (f.state === 'paused' || this.abort.signal.aborted) return;
    let st;
    try {
      st = await lstat(path, { bigint: true });
    } catch {
      return; // gone since: its unlink event does the rest
    }
    if (!st.isFile()) return;
    const stamp = toStamp(st);
    if (unchanged(indexEntry(this.c.home.db, path), stamp)) return;
    this.pool ??= new SealPool();
    try {
      const r = await addFile({ home: this.c.home, pool: this.pool, now: this.c.clock, signal: this.abort.signal }, path);
      recordIngested(this.c.home.db, f.spec.root, path, stamp, r.manifest_hash, this.c.clock());
      if (!r.unchanged) this.c.log.info({ root: f.spec.root, path, version: r.version, size: r.size }, `watched file ingested: ${path} (version ${r.version})`);
      this.emit('ingested', f.spec.root, r);
    } catch (e) {
      if (this.abort.signal.aborted) return;
      if (e instanceof GroveError && e.code === 'CONFLICT') {
        this.touch(f, path); // written to while we read it: wait for it to settle again
        return;
      }
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      this.c.log.warn({ root: f.spec.root, path, err: describeError(e) }, `could not ingest ${path}: ${describeError(e)}`);
    }
  }

  /** Catch-up scan: ingests what changed since the index, marks what vanished. */
  private scan(f: Folder): Promise<void> {
    if (f.scanning) {
      f.rescanWanted = true;
      return f.scanning;
    }
    f.scanning = (async () => {
      try {
        do {
          f.rescanWanted = false;
          await this.scanOnce(f);
        } while (f.rescanWanted && f.state !== 'paused' && !this.abort.signal.aborted);
      } finally {
        f.scanning = undefined;
      }
    })();
    return f.scanning;
  }

  private async scanOnce(f: Folder): Promise<void> {
    const root = f.spec.root;
    const signal = this.abort.signal;
    const wasWatching = f.state === 'watching';
    f.state = 'scanning';
    const found = await this.walk(f);
    if (!found || signal.aborted || paused(f)) return;
    const plan = planCatchUp(found, indexOf(this.c.home.db, root));
    const sizes = plan.ingest.map((p) => found.get(p)!.size);
    const scan: ScanProgress = { files_total: plan.ingest.length, files_done: 0, bytes_total: sizes.reduce((a, b) => a + b, 0), bytes_done: 0 };
    f.scan = scan;
    const every = this.init.progressEveryMs ?? 2_000;
    let lastLog = this.c.clock();
    if (plan.ingest.length > 0) {
      this.c.log.info({ root, ...scan, found: found.size }, `scanning ${root}: ${scan.files_total} of ${found.size} files new or changed`);
    }
    for (let i = 0; i < plan.ingest.length; i++) {
      if (signal.aborted || paused(f)) return;
      await this.serial(() => this.ingest(f, plan.ingest[i]!)).catch(() => {});
      scan.files_done++;
      scan.bytes_done += sizes[i]!;
      if (this.c.clock() - lastLog >= every) {
        lastLog = this.c.clock();
        this.c.log.info({ root, ...scan }, `scanning ${root}: ${scan.files_done}/${scan.files_total} files, ${scan.bytes_done}/${scan.bytes_total} bytes`);
      }
    }
    const rs = await rootStatus(f.spec);
    if (!rs.ok) return this.pause(f, rs.why);
    for (const path of plan.gone) if (markGone(this.c.home.db, path, this.c.clock())) this.emit('gone', root, path);
    if (f.state === 'scanning') f.state = 'watching';
    f.scan = null;
    if (!wasWatching || plan.ingest.length || plan.gone.length) {
      this.c.log.info({ root, ingested: plan.ingest.length, gone: plan.gone.length }, `watching ${root}`);
    }
    this.emit('scanned', root);
  }

  /** Every regular file under the root (not following links, skipping ignored names). */
  private async walk(f: Folder): Promise<Map<string, FileStamp> | undefined> {
    const found = new Map<string, FileStamp>();
    const dirs = [f.spec.root];
    while (dirs.length) {
      if (this.abort.signal.aborted || f.state === 'paused') return undefined;
      const dir = dirs.pop()!;
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true, encoding: 'buffer' });
      } catch (e) {
        if (dir === f.spec.root) {
          const rs = await rootStatus(f.spec);
          this.pause(f, rs.ok ? `it cannot be read (${describeError(e)})` : rs.why);
          return undefined;
        }
        continue; // a subdirectory removed or unreadable meanwhile
      }
      for (const e of entries) {
        if (!isUtf8(e.name)) continue; // cannot be named in a manifest (grove add reports these)
        const name = e.name.toString('utf8');
        if (this.ignored(name)) continue;
        const path = join(dir, name);
        if (e.isDirectory()) dirs.push(path);
        else if (e.isFile()) {
          const st = await stampOf(path);
          if (st) found.set(path, st);
        }
      }
    }
    return found;
  }
}

/** Read through a call: the state changes across awaits, which narrowing cannot see. */
function paused(f: Folder): boolean {
  return f.state === 'paused';
}

function toStamp(st: { size: bigint; mtimeNs: bigint; ino: bigint }): FileStamp {
  return { size: Number(st.size), mtime_ns: st.mtimeNs.toString(), ino: st.ino.toString() };
}

async function stampOf(path: string): Promise<FileStamp | undefined> {
  try {
    const st = await lstat(path, { bigint: true });
    return st.isFile() ? toStamp(st) : undefined;
  } catch {
    return undefined;
  }
}

function sameStamp(a: FileStamp, b: FileStamp): boolean {
  return a.size === b.size && a.mtime_ns === b.mtime_ns && a.ino === b.ino;
}
