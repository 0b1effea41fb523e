import type { Readable } from 'node:stream';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Home } from '../home/home.js';
import type { LoopSpec } from '../daemon/loop.js';
import type { CallOptions, PeerResponse } from '../net/client.js';
import type { Route } from '../sync/transfer.js';
import { getMeta, nextCounter, setMeta } from '../store/db.js';
import { recordObject } from '../store/catalog.js';
import { MAX_OBJECT_BYTES } from '../store/objects.js';
import { chunksOf, resolveFile, versionsOf, type FileVersion } from '../ingest/files.js';
import { GroveError, describeError, notFound } from '../errors.js';
import { planDelete, type VersionObjects } from './plan.js';
import { MAX_DELETE_OBJECTS, signDeleteRequest } from './request.js';
import { collectTrash, moveToTrash, restoreFromTrash, trashRow, type CollectResult } from './trash.js';
import type { DeleteAnswer } from './holder.js';

// The owner side of deletes (docs/delete.md): `grove delete` takes versions out of the
// catalog, trashes what nothing live references (mark-and-sweep), and queues a signed
// DeleteRequest for every holder (sent now when reachable, else at the next contact: the
// sync round's exchange). `grove undelete` brings versions back from the local trash or the
// holders' trash within the grace period. A collection loop sweeps the trash.

export interface DeleteComponents {
  home: Home;
  clock: () => number;
  log: Logger;
  addLoop: (spec: LoopSpec) => void;
  /** A signed call to a peer over its best route. */
  call: <T>(peerId: string, method: string, path: string, opts?: CallOptions) => Promise<PeerResponse<T>>;
  /** A signed streamed GET from a peer over its best route. */
  download: <R>(peerId: string, path: string, sink: (body: Readable, expectedSha256: string) => Promise<R>, opts?: CallOptions) => Promise<{ result: R }>;
  /** Objects held here for a share recipient: never trashed. */
  isPinned: (hash: string) => boolean;
  /**
   * Called after files were deleted or undeleted: the cell runs a sync round soon, which
   * re-seals the recovery index without them (and delivers what is still queued).
   */
  onCatalogChange?: () => void;
}

export interface DeleteInit {
  graceMs: number;
  confirmOver: number;
  /** Trash collection period (default 1 h). */
  collectEveryMs?: number;
}

export interface DeleteResult {
  files: { path: string; versions: number[] }[];
  objects_trashed: number;
  /** Per holder: what it did with our request now, or that it is queued. */
  holders: { peer: string; trashed: number; refused: number; queued: number; error?: string }[];
}

export interface TrashView {
  files: { path: string; name: string; version: number; size: number; manifest_hash: string; deleted_at: number; expires_at: number }[];
  /** Objects in this cell's trash: our own, and those held for peers. */
  own: { objects: number; bytes: number };
  held: { objects: number; bytes: number };
}

/**
 * The next delete sequence number: above the last one and at least the current time in ms,
 * so a cell rebuilt from a key backup (its counter lost) still numbers above what holders saw.
 */
function nextSeq(db: Home['db'], now: number): number {
  const next = Math.max(Number(getMeta(db, 'delete_seq') ?? 0) + 1, now);
  setMeta(db, 'delete_seq', String(next));
  return next;
}

interface DeletedRow extends FileVersion {
  batch: number;
  deleted_at: number;
}

export class DeleteService {
  constructor(private readonly c: DeleteComponents, private readonly init: DeleteInit) {
    c.addLoop({ name: 'trash-collect', intervalMs: init.collectEveryMs ?? 3_600_000, initialDelayMs: 60_000, run: async () => { await this.collect(); } });
  }

  private get db() {
    return this.c.home.db;
  }

  private get selfId(): string {
    return this.c.home.keys.cellId;
  }

  /** The versions named by the queries: a file (all versions, or --version), or a folder. */
  private targets(queries: string[], version?: number): FileVersion[] {
    const out = new Map<number, FileVersion>();
    for (const q of queries) {
      const abs = resolve(q);
      const under = (q.includes('/') ? this.db.prepare("SELECT * FROM files WHERE substr(path, 1, ?) = ? ORDER BY path, version").all(abs.length + 1, abs + '/') : []) as FileVersion[];
      if (under.length && version === undefined) {
        for (const v of under) out.set(v.id, v);
        continue;
      }
      const v = resolveFile(this.db, q, version);
      for (const x of version === undefined ? versionsOf(this.db, v.path) : [v]) out.set(x.id, x);
    }
    return [...out.values()];
  }

  private liveObjects(): VersionObjects[] {
    const rows = this.db.prepare(`SELECT f.manifest_hash AS m, fc.hash AS h FROM files f
      LEFT JOIN file_chunks fc ON fc.manifest_hash = f.manifest_hash`).all() as { m: string; h: string | null }[];
    const by = new Map<string, string[]>();
    for (const r of rows) {
      const list = by.get(r.m) ?? [];
      if (r.h) list.push(r.h);
      by.set(r.m, list);
    }
    return [...by].map(([manifest, chunks]) => ({ manifest, chunks }));
  }

  private isLive(hash: string): boolean {
    return this.db.prepare(`SELECT 1 FROM files WHERE manifest_hash = ?
      UNION ALL SELECT 1 FROM file_chunks fc JOIN files f ON f.manifest_hash = fc.manifest_hash WHERE fc.hash = ? LIMIT 1`).get(hash, hash) !== undefined;
  }

  async delete(queries: string[], opts: { version?: number; yes?: boolean; signal?: AbortSignal } = {}): Promise<DeleteResult> {
    const versions = this.targets(queries, opts.version);
    const paths = [...new Set(versions.map((v) => v.path))].sort();
    if (paths.length > this.init.confirmOver && !opts.yes) {
      throw new GroveError('CONFLICT', `this would delete ${paths.length} files (more than delete.confirm_over = ${this.init.confirmOver}): add --yes if you mean it`, { files: paths.length });
    }
    const now = this.c.clock();
    const deleted = versions.map((v) => ({ manifest: v.manifest_hash, chunks: chunksOf(this.db, v.manifest_hash).map((x) => x.hash) }));
    const manifests = new Set(versions.map((v) => v.manifest_hash));
    let trash: string[] = [];
    const peers = new Set<string>();
    this.db.transaction(() => {
      const batch = nextCounter(this.db, 'delete_batch');
      const ins = this.db.prepare(`INSERT INTO deleted_files(batch, path, name, version, size, file_hash, manifest_hash, chunks, added_at, deleted_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const v of versions) {
        ins.run(batch, v.path, v.name, v.version, v.size, v.file_hash, v.manifest_hash, v.chunks, v.added_at, now);
        this.db.prepare('DELETE FROM files WHERE id = ?').run(v.id);
      }
      trash = planDelete(deleted, this.liveObjects());
      const out = this.db.prepare(`INSERT INTO delete_outbox(peer_id, hash, manifest, created_at, sent_at, result) VALUES (?, ?, ?, ?, NULL, NULL)
        ON CONFLICT(peer_id, hash) DO UPDATE SET manifest = excluded.manifest, created_at = excluded.created_at, sent_at = NULL, result = NULL`);
      for (const hash of trash) {
        for (const { peer_id } of this.db.prepare('SELECT peer_id FROM placements WHERE hash = ?').all(hash) as { peer_id: string }[]) {
          out.run(peer_id, hash, manifests.has(hash) ? 1 : 0, now);
          peers.add(peer_id);
        }
        this.db.prepare('DELETE FROM placements WHERE hash = ?').run(hash);
      }
    }).immediate();
    let trashed = 0;
    for (const hash of trash) if (await moveToTrash(this.c.home, hash, now)) trashed++;
    this.c.log.info({ files: paths.length, versions: versions.length, objects: trash.length }, 'files deleted');
    this.c.onCatalogChange?.();
    const holders: DeleteResult['holders'] = [];
    for (const peer of [...peers].sort()) {
      holders.push(await this.deliver(peer, opts.signal).catch((e) => ({ peer, trashed: 0, refused: 0, queued: this.queued(peer), error: describeError(e) })));
    }
    const byPath = new Map<string, number[]>();
    for (const v of versions) byPath.set(v.path, [...(byPath.get(v.path) ?? []), v.version].sort((a, b) => a - b));
    return { files: [...byPath].map(([path, vs]) => ({ path, versions: vs })), objects_trashed: trashed, holders };
  }

  private queued(peer: string): number {
    return this.db.prepare('SELECT COUNT(*) FROM delete_outbox WHERE peer_id = ? AND sent_at IS NULL').pluck().get(peer) as number;
  }

  /** Sends what the outbox owes one holder, in signed requests of at most 1000 objects. */
  async deliver(peer: string, signal?: AbortSignal): Promise<DeleteResult['holders'][number]> {
    const sum = { peer, trashed: 0, refused: 0, queued: 0 };
    for (;;) {
      signal?.throwIfAborted();
      const rows = this.db.prepare('SELECT hash, manifest FROM delete_outbox WHERE peer_id = ? AND sent_at IS NULL ORDER BY hash LIMIT ?')
        .all(peer, MAX_DELETE_OBJECTS) as { hash: string; manifest: number }[];
      // A file added again since: its objects are live again and the delete no longer applies.
      const stale = rows.filter((r) => this.isLive(r.hash));
      for (const r of stale) this.db.prepare('DELETE FROM delete_outbox WHERE peer_id = ? AND hash = ?').run(peer, r.hash);
      const send = rows.filter((r) => !stale.includes(r));
      if (send.length === 0) {
        if (rows.length === 0) return sum;
        continue;
      }
      const now = this.c.clock();
      const req = this.db.transaction(() => signDeleteRequest(this.c.home.keys.identity.privateKey, {
        owner: this.selfId, holder: peer, seq: nextSeq(this.db, now), created_at: now,
        manifests: send.filter((r) => r.manifest === 1).map((r) => r.hash), objects: send.map((r) => r.hash),
      }))();
      const res = await this.c.call<DeleteAnswer>(peer, 'POST', '/api/delete', { json: req, ...(signal ? { signal } : {}) });
      const a = res.data;
      const result = new Map<string, string>();
      for (const h of Array.isArray(a?.trashed) ? a.trashed : []) result.set(h, 'trashed');
      for (const r of Array.isArray(a?.refused) ? a.refused : []) result.set(r.hash, `refused: ${r.reason}`);
      const mark = this.db.prepare('UPDATE delete_outbox SET sent_at = ?, result = ? WHERE peer_id = ? AND hash = ?');
      this.db.transaction(() => { for (const r of send) mark.run(now, result.get(r.hash) ?? 'missing', peer, r.hash); })();
      sum.trashed += a?.trashed?.length ?? 0;
      sum.refused += a?.refused?.length ?? 0;
      if (a?.refused?.length) this.c.log.info({ peer, refused: a.refused.length }, 'a holder kept some objects of a delete (shared, or put again since)');
    }
  }

  /** The per-peer hook of the sync round: deliver queued deletes at each contact. */
  exchange(): { name: string; run: (route: Route) => Promise<void> } {
    return { name: 'deletes', run: async (route) => { if (this.queued(route.peerId)) await this.deliver(route.peerId); } };
  }

  /** `grove undelete FILE [--version N]`: the versions of the latest delete of that file. */
  async undelete(query: string, opts: { version?: number; signal?: AbortSignal } = {}): Promise<{ path: string; versions: number[]; from_holders: number }> {
    const now = this.c.clock();
    const rows = this.deletedVersions(query, opts.version);
    const expired = rows.filter((r) => r.deleted_at + this.init.graceMs <= now);
    if (expired.length) throw new GroveError('NOT_FOUND', `${rows[0]!.path} was deleted more than delete.grace_s ago: it is gone`);
    const needed = new Set<string>();
    for (const r of rows) for (const h of [r.manifest_hash, ...chunksOf(this.db, r.manifest_hash).map((x) => x.hash)]) needed.add(h);
    const missing: string[] = [];
    for (const h of needed) {
      if (this.c.home.objects.has(h)) continue;
      if (trashRow(this.c.home, h) && (await restoreFromTrash(this.c.home, h, now))) continue;
      missing.push(h);
    }
    let fromHolders = 0;
    if (missing.length) {
      const kinds = new Set(rows.map((r) => r.manifest_hash));
      const byPeer = new Map<string, string[]>();
      for (const h of missing) {
        for (const { peer_id } of this.db.prepare('SELECT peer_id FROM delete_outbox WHERE hash = ? ORDER BY peer_id').all(h) as { peer_id: string }[]) {
          byPeer.set(peer_id, [...(byPeer.get(peer_id) ?? []), h]);
        }
      }
      const got = new Set<string>();
      for (const [peer, hashes] of byPeer) {
        const want = hashes.filter((h) => !got.has(h));
        if (!want.length) continue;
        try {
          await this.c.call(peer, 'POST', '/api/undelete', { json: { hashes: want }, ...(opts.signal ? { signal: opts.signal } : {}) });
          for (const h of want) {
            const { result } = await this.c.download(peer, `/api/objects/${h}`, async (body, expected) => {
              if (expected !== h) throw new GroveError('PEER_ERROR', 'peer sent another object');
              return this.c.home.objects.putStream(h, body, MAX_OBJECT_BYTES);
            }, opts.signal ? { signal: opts.signal } : {});
            recordObject(this.db, { hash: h, size: result.size, kind: kinds.has(h) ? 'manifest' : 'chunk', owner: this.selfId }, this.c.clock());
            got.add(h);
            fromHolders++;
          }
        } catch (e) {
          this.c.log.warn({ peer, err: describeError(e) }, 'undelete: a holder could not give objects back');
        }
      }
      const still = missing.filter((h) => !got.has(h));
      if (still.length) throw new GroveError('UNREACHABLE', `could not bring back ${still.length} objects of ${rows[0]!.path}: their holders are unreachable or collected them; try again later`);
    }
    this.db.transaction(() => {
      for (const r of rows) {
        if (this.db.prepare('SELECT 1 FROM files WHERE path = ? AND version = ?').get(r.path, r.version)) {
          throw new GroveError('CONFLICT', `${r.path} has a version ${r.version} again (added since the delete); undelete refused`);
        }
      }
      const ins = this.db.prepare(`INSERT INTO files(path, name, version, size, file_hash, manifest_hash, chunks, added_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
      for (const r of rows) {
        ins.run(r.path, r.name, r.version, r.size, r.file_hash, r.manifest_hash, r.chunks, r.added_at);
        this.db.prepare('DELETE FROM deleted_files WHERE id = ?').run(r.id);
      }
      // Holders not yet told need not be; those told restore theirs when asked above, or
      // the next sync round places new copies.
      for (const h of needed) this.db.prepare('DELETE FROM delete_outbox WHERE hash = ? AND sent_at IS NULL').run(h);
    }).immediate();
    // Holders that already trashed copies and were not asked above: ask them too, best effort.
    for (const { peer_id } of this.db.prepare("SELECT DISTINCT peer_id FROM delete_outbox WHERE result = 'trashed'").all() as { peer_id: string }[]) {
      const hashes = (this.db.prepare("SELECT hash FROM delete_outbox WHERE peer_id = ? AND result = 'trashed'").all(peer_id) as { hash: string }[]).map((r) => r.hash).filter((h) => needed.has(h));
      if (!hashes.length) continue;
      await this.c.call(peer_id, 'POST', '/api/undelete', { json: { hashes: hashes.slice(0, MAX_DELETE_OBJECTS) } }).catch(() => undefined);
      this.db.prepare(`DELETE FROM delete_outbox WHERE peer_id = ? AND hash IN (SELECT value FROM json_each(?))`).run(peer_id, JSON.stringify(hashes));
    }
    this.c.onCatalogChange?.();
    return { path: rows[0]!.path, versions: rows.map((r) => r.version).sort((a, b) => a - b), from_holders: fromHolders };
  }

  private deletedVersions(query: string, version?: number): DeletedRow[] {
    const byPath = query.includes('/') ? resolve(query) : undefined;
    const paths = byPath ? [byPath] : (this.db.prepare('SELECT DISTINCT path FROM deleted_files WHERE name = ?').all(query) as { path: string }[]).map((r) => r.path);
    if (paths.length === 0) throw notFound(`nothing named ${query} in the trash (see \`grove trash\`)`);
    if (paths.length > 1) throw new GroveError('CONFLICT', `${query} is ambiguous; give one of these paths: ${paths.join(', ')}`, { paths });
    const latest = this.db.prepare('SELECT MAX(batch) FROM deleted_files WHERE path = ?').pluck().get(paths[0]) as number | null;
    if (latest === null) throw notFound(`nothing from ${paths[0]} in the trash (see \`grove trash\`)`);
    let rows = this.db.prepare('SELECT * FROM deleted_files WHERE path = ? AND batch = ? ORDER BY version').all(paths[0], latest) as DeletedRow[];
    if (version !== undefined) rows = rows.filter((r) => r.version === version);
    if (!rows.length) throw notFound(`version ${version} of ${paths[0]} is not in the trash`);
    return rows;
  }

  trash(): TrashView {
    const files = (this.db.prepare('SELECT * FROM deleted_files ORDER BY deleted_at DESC, path, version').all() as DeletedRow[])
      .map((r) => ({ path: r.path, name: r.name, version: r.version, size: r.size, manifest_hash: r.manifest_hash, deleted_at: r.deleted_at, expires_at: r.deleted_at + this.init.graceMs }));
    const sum = (own: boolean) => this.db.prepare(`SELECT COUNT(*) AS objects, COALESCE(SUM(size), 0) AS bytes FROM trash WHERE (owner = ?) = ?`).get(this.selfId, own ? 1 : 0) as { objects: number; bytes: number };
    return { files, own: sum(true), held: sum(false) };
  }

  /** Collects trash past the grace period (mark-and-sweep: a live or shared object goes back). */
  async collect(): Promise<CollectResult> {
    const now = this.c.clock();
    const r = await collectTrash(this.c.home, now, this.init.graceMs, (t) => (t.owner === this.selfId ? this.isLive(t.hash) : this.c.isPinned(t.hash)));
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM deleted_files WHERE deleted_at <= ?').run(now - this.init.graceMs);
      this.db.prepare('DELETE FROM delete_outbox WHERE sent_at IS NOT NULL AND sent_at <= ?').run(now - this.init.graceMs);
    })();
    if (r.collected.length || r.restored.length) this.c.log.info({ collected: r.collected.length, bytes: r.bytes, restored: r.restored.length }, 'trash collected');
    return r;
  }
}
