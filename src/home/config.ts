import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { writeFileAtomicSync } from './atomic.js';
import { badInput } from '../errors.js';
import { DEFAULT_IGNORE } from '../watch/ignore.js';

// config.json (docs/design.md §1, mode 644). Every key has a default, so an empty or partial file
// is valid; unknown keys are rejected by `grove config set` but preserved when read.

export interface Config {
  name: string;
  api: { host: string; port: number; advertise: string[] };
  dashboard: { host: string; port: number };
  replication: { factor: number; offline_grace_s: number };
  sync: { interval_s: number; jitter_s: number };
  bench: { interval_s: number };
  quota: { default_bytes: number; per_owner: Record<string, number> };
  /** Free space kept for this cell itself; peers' uploads get only what is free above it. */
  storage: { reserve_bytes: number };
  /** Bounds on the peer API against slow or greedy strangers (docs/protocol.md "Bounds and defences"). */
  limits: { headers_timeout_s: number; request_timeout_s: number; max_connections: number; max_connections_per_address: number };
  invite: { ttl_s: number };
  update: { trusted_keys: string[]; max_bundle_bytes: number };
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent' };
  /** Relays to listen on (ws:// or wss:// URLs) and a private relay's shared token. */
  relay: { urls: string[]; token: string };
  watch: { settle_ms: number; ignore: string[]; rescan_s: number };
  mdns: { enabled: boolean; name: string; interval_s: number };
  delete: { grace_s: number; confirm_over: number };
}

export function defaultConfig(): Config {
  return {
    name: hostname(),
    api: { host: '0.0.0.0', port: 7420, advertise: [] },
    dashboard: { host: '127.0.0.1', port: 7421 },
    replication: { factor: 2, offline_grace_s: 3600 },
    sync: { interval_s: 300, jitter_s: 30 },
    bench: { interval_s: 6 * 3600 },
    quota: { default_bytes: 10 * 1024 ** 3, per_owner: {} },
    storage: { reserve_bytes: 512 * 1024 ** 2 },
    limits: { headers_timeout_s: 10, request_timeout_s: 120, max_connections: 1024, max_connections_per_address: 64 },
    invite: { ttl_s: 24 * 3600 },
    update: { trusted_keys: [], max_bundle_bytes: 512 * 1024 ** 2 },
    log: { level: 'info' },
    relay: { urls: [], token: '' },
    watch: { settle_ms: 2000, ignore: [...DEFAULT_IGNORE], rescan_s: 3600 },
    mdns: { enabled: true, name: '', interval_s: 30 },
    delete: { grace_s: 30 * 24 * 3600, confirm_over: 100 },
  };
}

type Kind = 'string' | 'port' | 'uint' | 'posint' | 'urls' | 'ws-urls' | 'strings' | 'level' | 'quota-map' | 'secret' | 'bool' | 'optstring';

/** The settable keys and how each value is parsed and checked. */
export const CONFIG_KEYS: Record<string, Kind> = {
  name: 'string',
  'api.host': 'string',
  'api.port': 'port',
  'api.advertise': 'urls',
  'dashboard.host': 'string',
  'dashboard.port': 'port',
  'replication.factor': 'posint',
  'replication.offline_grace_s': 'uint',
  'sync.interval_s': 'posint',
  'sync.jitter_s': 'uint',
  'bench.interval_s': 'posint',
  'quota.default_bytes': 'uint',
  'quota.per_owner': 'quota-map',
  'storage.reserve_bytes': 'uint',
  'limits.headers_timeout_s': 'posint',
  'limits.request_timeout_s': 'posint',
  'limits.max_connections': 'posint',
  'limits.max_connections_per_address': 'posint',
  'invite.ttl_s': 'posint',
  'update.trusted_keys': 'strings',
  'update.max_bundle_bytes': 'posint',
  'log.level': 'level',
  'relay.urls': 'ws-urls',
  'relay.token': 'secret',
  'watch.settle_ms': 'posint',
  'watch.ignore': 'strings',
  'watch.rescan_s': 'posint',
  'mdns.enabled': 'bool',
  'mdns.name': 'optstring',
  'mdns.interval_s': 'posint',
  'delete.grace_s': 'uint',
  'delete.confirm_over': 'posint',
};

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'silent'];

export function parseConfigValue(key: string, raw: string): unknown {
  const kind = CONFIG_KEYS[key];
  if (!kind) throw badInput(`unknown config key: ${key} (known: ${Object.keys(CONFIG_KEYS).join(', ')})`);
  const int = (min: number, max: number) => {
    if (!/^\d+$/.test(raw)) throw badInput(`${key} must be an integer`);
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw badInput(`${key} must be between ${min} and ${max}`);
    return n;
  };
  const list = () => {
    if (raw.trim().startsWith('[')) {
      let v: unknown;
      try { v = JSON.parse(raw); } catch { throw badInput(`${key} must be a JSON array or a comma-separated list`); }
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw badInput(`${key} must be a list of strings`);
      return v as string[];
    }
    return raw.split(',').map((s) => s.trim()).filter(Boolean);
  };
  switch (kind) {
    case 'string':
      if (!raw || raw.length > 200) throw badInput(`${key} must be 1-200 characters`);
      return raw;
    case 'port': return int(0, 65535);
    case 'uint': return int(0, Number.MAX_SAFE_INTEGER);
    case 'posint': return int(1, Number.MAX_SAFE_INTEGER);
    case 'strings': return list();
    case 'urls': {
      const urls = list();
      for (const u of urls) {
        let p: URL;
        try { p = new URL(u); } catch { throw badInput(`not a URL: ${u}`); }
        if (p.protocol !== 'http:' && p.protocol !== 'https:') throw badInput(`route URLs must be http(s): ${u}`);
      }
      return urls;
    }
    case 'ws-urls': {
      const urls = list();
      if (urls.length > 8) throw badInput(`${key}: at most 8 relays`);
      for (const u of urls) {
        let p: URL;
        try { p = new URL(u); } catch { throw badInput(`not a URL: ${u}`); }
        if ((p.protocol !== 'ws:' && p.protocol !== 'wss:') || (p.pathname !== '/' && p.pathname !== '') || p.search || p.username) throw badInput(`relay URLs are ws://HOST:PORT or wss://HOST:PORT: ${u}`);
      }
      return urls;
    }
    case 'secret':
      if (raw.length > 200) throw badInput(`${key} must be at most 200 characters`);
      return raw;
    case 'bool':
      if (raw !== 'true' && raw !== 'false') throw badInput(`${key} must be true or false`);
      return raw === 'true';
    case 'optstring':
      if (raw.length > 63) throw badInput(`${key} must be at most 63 characters`);
      return raw;
    case 'level':
      if (!LEVELS.includes(raw)) throw badInput(`log.level must be one of ${LEVELS.join(', ')}`);
      return raw;
    case 'quota-map': {
      let v: unknown;
      try { v = JSON.parse(raw); } catch { throw badInput(`${key} must be a JSON object {"cellId": bytes}`); }
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw badInput(`${key} must be a JSON object`);
      for (const [k, n] of Object.entries(v)) {
        if (!Number.isSafeInteger(n) || (n as number) < 0) throw badInput(`quota for ${k} must be a byte count`);
      }
      return v;
    }
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function deepMerge<T>(base: T, over: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(over)) return (over === undefined ? base : over) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? deepMerge((base as Record<string, unknown>)[k], v) : v;
  return out as T;
}

export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  try {
    const v = JSON.parse(text);
    if (!isPlainObject(v)) throw new Error('not an object');
    return v;
  } catch {
    throw badInput(`${path} is not valid JSON; fix or remove it`);
  }
}

/** Loads config.json merged over the defaults, validating every known key. */
export function loadConfig(path: string): Config {
  const raw = readConfigFile(path);
  const cfg = deepMerge(defaultConfig(), raw);
  for (const key of Object.keys(CONFIG_KEYS)) {
    const v = getConfigValue(cfg, key);
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    try {
      parseConfigValue(key, text);
    } catch (e) {
      throw badInput(`${path}: ${(e as Error).message}`);
    }
  }
  return cfg;
}

export function getConfigValue(cfg: unknown, key: string): unknown {
  let cur: unknown = cfg;
  for (const part of key.split('.')) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[part];
  }
  return cur;
}

/** Sets one key in config.json (validated), keeping everything else as written. */
export function setConfigValue(path: string, key: string, raw: string): unknown {
  const value = parseConfigValue(key, raw);
  const file = readConfigFile(path);
  const parts = key.split('.');
  let cur: Record<string, unknown> = file;
  for (const p of parts.slice(0, -1)) {
    if (!isPlainObject(cur[p])) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
  writeFileAtomicSync(path, JSON.stringify(file, null, 2) + '\n', 0o644);
  return value;
}
