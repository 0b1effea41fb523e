import { mkdirSync, existsSync, statSync, accessSync, chmodSync, constants } from 'node:fs';
import { homePaths, type HomePaths } from './paths.js';
import { ensureKeys, loadKeys, type CellKeys } from './keys.js';
import { loadConfig, defaultConfig, type Config } from './config.js';
import { writeFileAtomicSync } from './atomic.js';
import { writePassword, randomPassword } from './password.js';
import { openDb, type DB } from '../store/db.js';
import { ObjectStore } from '../store/objects.js';
import { GroveError } from '../errors.js';

export interface InitResult {
  home: string;
  created: string[];
  /** Set only when init generated the dashboard password (shown once). */
  dashboardPassword?: string;
}

/** `grove init`: creates every file of docs/design.md §1 that is missing; never overwrites keys. */
export function initHome(root: string, opts: { name?: string; password?: string; passwordIterations?: number } = {}): InitResult {
  const p = homePaths(root);
  const created: string[] = [];
  if (!existsSync(root)) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    created.push(root);
  } else if (!statSync(root).isDirectory()) {
    throw new GroveError('BAD_INPUT', `${root} exists and is not a directory`);
  } else if ((statSync(root).mode & 0o077) !== 0) {
    // An existing directory (say 755) would leave placement.db and the logs readable by
    // every local user: the home is private, whoever created the directory.
    try {
      chmodSync(root, 0o700);
    } catch {
      throw new GroveError('FORBIDDEN', `${root} is readable by other users and cannot be made private: run \`chmod 700 ${root}\` first`);
    }
  }
  checkWritable(root);
  created.push(...ensureKeys(p));
  let dashboardPassword: string | undefined;
  if (!existsSync(p.dashboardAuth)) {
    dashboardPassword = opts.password ?? randomPassword();
    writePassword(p.dashboardAuth, dashboardPassword, opts.passwordIterations);
    created.push(p.dashboardAuth);
    if (opts.password) dashboardPassword = undefined;
  }
  if (!existsSync(p.config)) {
    const cfg = defaultConfig();
    writeFileAtomicSync(p.config, JSON.stringify({ name: opts.name ?? cfg.name }, null, 2) + '\n', 0o644);
    created.push(p.config);
  }
  for (const f of [p.peerSpeeds, p.peerHealth]) {
    if (!existsSync(f)) {
      writeFileAtomicSync(f, '{}\n', 0o644);
      created.push(f);
    }
  }
  for (const d of [p.chunks, p.logs]) {
    if (!existsSync(d)) {
      mkdirSync(d, { recursive: true, mode: 0o755 });
      created.push(d);
    }
  }
  const dbExisted = existsSync(p.db);
  openDb(p.db).close();
  if (!dbExisted) created.push(p.db);
  return { home: root, created, ...(dashboardPassword ? { dashboardPassword } : {}) };
}

function checkWritable(root: string): void {
  try {
    accessSync(root, constants.W_OK | constants.X_OK);
  } catch {
    throw new GroveError('FORBIDDEN', `cannot write to ${root}: check its owner and permissions`);
  }
}

/** An opened home: what every command and the cell work with. */
export interface Home {
  paths: HomePaths;
  keys: CellKeys;
  config: Config;
  db: DB;
  objects: ObjectStore;
  close(): void;
}

/** `checkDb`: a full integrity check of placement.db (the running cell, at start; see openDb). */
export function openHome(root: string, opts: { checkDb?: boolean } = {}): Home {
  const paths = homePaths(root);
  if (!existsSync(root) || !existsSync(paths.nodeKey)) {
    throw new GroveError('NOT_FOUND', `no grove home at ${root}: run \`grove init\` first`);
  }
  const keys = loadKeys(paths);
  const config = loadConfig(paths.config);
  const db = openDb(paths.db, opts.checkDb ? { check: 'full' } : {});
  const objects = new ObjectStore(paths.chunks);
  return { paths, keys, config, db, objects, close: () => db.close() };
}
