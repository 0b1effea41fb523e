import { isAbsolute } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { filesPage } from '../ingest/files-page.js';
import { pathCount, versionsOf } from '../ingest/files.js';
import { PeerRegistry } from '../peers/registry.js';
import { fileCopies, type CopyContext } from '../sync/copies.js';
import { activeRecipients } from '../share/sent.js';
import { feedItems } from '../share/received.js';
import { conversation, conversationStats, lastReceivedSeq } from '../chat/messages.js';
import { getMeta, setMeta } from '../store/db.js';
import { loadConfig, setConfigValue } from '../home/config.js';
import { badInput, notFound } from '../errors.js';
import type { CellStatus } from '../daemon/status.js';
import type { DashboardContext } from './server.js';

// The dashboard's read queries and commands (docs/dashboard.md "API"). Commands go through
// the cell's control registry, exactly as the CLI's do over the control socket; queries read
// the home database as `grove ls`, `grove feed` and `grove chat PEER` do.

const PAGE_MAX = 500;
/** Settings the dashboard may change (each validated by config's own parser). */
export const SETTABLE = ['name', 'replication.factor', 'sync.interval_s', 'api.advertise', 'quota.default_bytes', 'relay.urls'] as const;

function str(v: unknown, what: string, max = 4096): string {
  if (typeof v !== 'string' || !v || v.length > max) throw badInput(`expected ${what}`);
  return v;
}

function int(v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw badInput(`expected an integer between ${min} and ${max}`);
  return n;
}

export function registerDataRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  const { home, control } = ctx;
  const db = home.db;
  const peers = () => new PeerRegistry(db, ctx.clock);
  const run = (name: string, params: Record<string, unknown> = {}) => control.handle(name, params, ctx.signal);
  const copyContext = (): CopyContext => ({
    db, selfId: home.keys.cellId, now: ctx.clock(),
    offlineGraceMs: home.config.replication.offline_grace_s * 1000,
    factor: home.config.replication.factor,
    peers: peers().list().map((p) => ({ id: p.id, preferred: p.preferred })),
    health: ctx.peerHealth,
  });

  app.get('/api/overview', async () => {
    const status = (await run('status')) as CellStatus;
    const sync = ctx.syncState();
    const files = pathCount(db);
    return {
      ...status,
      dashboard_url: ctx.url() ?? null,
      files,
      uptime_s: Math.max(0, Math.round((ctx.clock() - ctx.startedAt) / 1000)),
      sync: {
        busy: sync.busy,
        next_at: sync.nextAt ?? null,
        last: sync.last ? { ...sync.last, errors: sync.last.errors.slice(0, 20), error_count: sync.last.errors.length } : null,
      },
    };
  });

  app.post('/api/sync', async () => {
    const s = await run('sync');
    ctx.feed.publish('overview');
    return s;
  });

  // The Files page: latest version of each path, filtered and paged on the server so 10 000
  // files cost one page of copy counting.
  app.get('/api/files', async (req) => {
    const q = req.query as { q?: string; offset?: string; limit?: string };
    const filter = typeof q.q === 'string' ? q.q.trim().toLowerCase().slice(0, 200) : '';
    const offset = int(q.offset, 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = int(q.limit, 100, 1, PAGE_MAX);
    const { total, rows: page } = filesPage(db, { filter, offset, limit });
    const copies = fileCopies(copyContext());
    const shared = activeRecipients(db, page.map((r) => r.path));
    return {
      total,
      offset,
      limit,
      files: page.map((r) => ({ ...r, ...copies(r.manifest_hash), shared_with: shared.get(r.path) ?? [] })),
    };
  });

  app.get('/api/files/versions', async (req) => {
    const path = str((req.query as { path?: unknown }).path, 'a path');
    const vs = versionsOf(db, path);
    if (!vs.length) throw notFound(`no file stored at ${path}`);
    return { versions: vs.map((v) => ({ version: v.version, size: v.size, manifest_hash: v.manifest_hash, added_at: v.added_at, chunks: v.chunks })) };
  });

  app.post('/api/share', async (req) => {
    const b = req.body as { file?: unknown; peers?: unknown } | undefined;
    const file = str(b?.file, '{file, peers}');
    if (!Array.isArray(b?.peers) || !b.peers.length || b.peers.length > 100 || !b.peers.every((p) => typeof p === 'string')) throw badInput('expected {file, peers: [peer…]}');
    const r = await run('share', { file, peers: b.peers });
    ctx.feed.publish('files');
    return r;
  });

  app.post('/api/unshare', async (req) => {
    const b = req.body as { file?: unknown; peer?: unknown } | undefined;
    const r = await run('unshare', { file: str(b?.file, '{file, peer}'), peer: str(b?.peer, '{file, peer}') });
    ctx.feed.publish('files');
    return r;
  });

  app.get('/api/feed', async () => ({ items: feedItems(home) }));

  // Chat: one conversation per peer with unread counts (the last read seq is kept per peer
  // in the meta table) and queued messages.
  app.get('/api/chat', async () => {
    return {
      conversations: peers().list().map((p) => {
        const s = conversationStats(db, p.id, readMark(p.id));
        return { peer: p.id, name: p.name, unread: s.unread, queued: s.queued, last_at: s.last_at, messages: s.total };
      }),
    };
  });
  const readMark = (peerId: string) => Number(getMeta(db, `dashboard.chat_read:${peerId}`) ?? 0);

  app.get('/api/chat/:peer', async (req) => {
    const p = peers().resolve(str((req.params as { peer: string }).peer, 'a peer'));
    const limit = int((req.query as { limit?: string }).limit, 200, 1, 5000);
    return { peer: p.id, name: p.name, read_seq: readMark(p.id), messages: conversation(home, p.id, limit) };
  });

  app.post('/api/chat/:peer/read', async (req) => {
    const p = peers().resolve(str((req.params as { peer: string }).peer, 'a peer'));
    const max = lastReceivedSeq(db, p.id);
    setMeta(db, `dashboard.chat_read:${p.id}`, String(max));
    ctx.feed.publish('chat', { peer: p.id });
    return { read_seq: max };
  });

  app.post('/api/chat/:peer', async (req) => {
    const peer = str((req.params as { peer: string }).peer, 'a peer');
    const text = str((req.body as { text?: unknown } | undefined)?.text, '{text}', 16_000);
    const r = await run('chat-send', { peer, text });
    ctx.feed.publish('chat', { peer });
    return { message: r };
  });

  app.get('/api/peers', async () => run('peers'));
  app.post('/api/peers/probe', async () => run('peers', { probe: true }));

  app.post('/api/peers/:peer/prefer', async (req) => {
    const reg = peers();
    const p = reg.resolve(str((req.params as { peer: string }).peer, 'a peer'));
    const on = (req.body as { on?: unknown } | undefined)?.on;
    if (typeof on !== 'boolean') throw badInput('expected {"on": true|false}');
    reg.setPreferred(p.id, on);
    ctx.feed.publish('peers');
    return { id: p.id, name: p.name, preferred: on };
  });

  app.post('/api/invite', async () => run('invite'));
  app.post('/api/pair', async (req) => {
    const code = str((req.body as { code?: unknown } | undefined)?.code, '{code}', 8192).trim();
    const r = await run('pair', { code });
    ctx.feed.publish('peers');
    return r;
  });

  // Nearby cells (mDNS) that are not paired: shown, never paired automatically (pairing
  // still takes an invite code). Discovery off: an empty list.
  app.get('/api/peers/nearby', async () => run('nearby'));

  // Updates: what `grove update` lists, and `grove update --accept HASH`.
  app.get('/api/updates', async () => run('update-list'));
  app.post('/api/updates/accept', async (req) => {
    const hash = str((req.body as { hash?: unknown } | undefined)?.hash, '{hash}', 64);
    const r = await run('update-accept', { hash });
    ctx.feed.publish('overview');
    return r;
  });

  // Watched folders: `grove watch --list`, `grove watch DIR`, `grove unwatch DIR`.
  app.get('/api/watch', async () => run('watch-list'));
  app.post('/api/watch', async (req) => {
    const dir = str((req.body as { dir?: unknown } | undefined)?.dir, '{dir}');
    // A path on the cell's machine; relative to what would be a guess (the cell's working directory).
    if (!isAbsolute(dir)) throw badInput('give the folder as an absolute path on the cell\'s machine');
    const r = await run('watch', { dir });
    ctx.feed.publish('settings');
    return r;
  });
  app.post('/api/watch/remove', async (req) => {
    const r = await run('unwatch', { dir: str((req.body as { dir?: unknown } | undefined)?.dir, '{dir}') });
    ctx.feed.publish('settings');
    return r;
  });

  // `grove delete FILE [--version N]` for one stored file (exact path or manifest hash), never
  // with --yes: the delete.confirm_over breaker is never bypassed from here.
  app.post('/api/files/delete', async (req) => {
    const b = (req.body ?? {}) as { path?: unknown; manifest_hash?: unknown; version?: unknown };
    if ((b.path === undefined) === (b.manifest_hash === undefined)) throw badInput('expected {path} or {manifest_hash}, and a version if you like');
    const file = b.path !== undefined ? str(b.path, 'a path') : str(b.manifest_hash, 'a manifest hash', 64);
    // One stored file, named exactly (a folder or a bare name could stand for many).
    if (b.path !== undefined && !versionsOf(db, file).length) throw notFound(`no file stored at ${file}`);
    if (b.manifest_hash !== undefined && !/^[0-9a-f]{64}$/.test(file)) throw badInput('manifest_hash must be 64 hex characters');
    if (b.version !== undefined && (!Number.isSafeInteger(b.version) || (b.version as number) < 1)) throw badInput('version must be a positive integer');
    const r = await run('delete', { files: [file], ...(b.version !== undefined ? { version: b.version } : {}) });
    ctx.feed.publish('files');
    ctx.feed.publish('overview');
    return r;
  });

  app.get('/api/settings', async () => {
    const saved = loadConfig(home.paths.config);
    return {
      // What config.json says now; the running cell uses what it started with until restarted.
      saved: {
        name: saved.name,
        'replication.factor': saved.replication.factor,
        'sync.interval_s': saved.sync.interval_s,
        'api.advertise': saved.api.advertise,
        'quota.default_bytes': saved.quota.default_bytes,
        'relay.urls': saved.relay.urls,
      },
      running: {
        name: home.config.name,
        'replication.factor': home.config.replication.factor,
        'sync.interval_s': home.config.sync.interval_s,
        'api.advertise': home.config.api.advertise,
        'quota.default_bytes': home.config.quota.default_bytes,
        'relay.urls': home.config.relay.urls,
      },
      // The relay links of the running cell (relay.urls as it started): connected now or not.
      relays: ctx.relays(),
      dashboard: { url: ctx.url() ?? null, host: home.config.dashboard.host, port: home.config.dashboard.port },
    };
  });

  app.post('/api/settings', async (req) => {
    const b = req.body as { key?: unknown; value?: unknown } | undefined;
    const key = str(b?.key, '{key, value}', 100);
    if (!(SETTABLE as readonly string[]).includes(key)) throw badInput(`${key} cannot be changed from the dashboard (use grove config set)`);
    const raw = Array.isArray(b?.value) ? JSON.stringify(b.value) : typeof b?.value === 'number' ? String(b.value) : str(b?.value, 'a value', 4096);
    const value = setConfigValue(home.paths.config, key, raw);
    ctx.feed.publish('settings');
    return { key, value, restart_needed: true };
  });
}
