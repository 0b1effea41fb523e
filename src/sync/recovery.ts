import type { KeyObject } from 'node:crypto';
import { getMeta as meta, setMeta, type DB } from '../store/db.js';
import type { Home } from '../home/home.js';
import { receiveGrant } from '../share/received.js';
import { activateShare } from '../share/sent.js';
import type { ObjectStore } from '../store/objects.js';
import type { PeerClient } from '../net/client.js';
import type { PeerRegistry } from '../peers/registry.js';
import { isRouteKind } from '../peers/registry.js';
import { recordObject, recordRemoved } from '../store/catalog.js';
import { sealIndex, openIndex, type FileIndex } from '../formats/file-index.js';
import { openManifest } from '../formats/manifest.js';
import { fileKey } from '../crypto/kdf.js';
import { canonicalJson } from '../crypto/canonical.js';
import { sha256Hex } from '../crypto/hash.js';
import { isHash } from '../crypto/encoding.js';
import { listVersions, insertVersion, byManifest } from '../ingest/files.js';
import { GroveError, describeError } from '../errors.js';
import { pushObject, pullObject, releaseObjects, type Route } from './transfer.js';
import type { RoundSummary } from './round.js';

// Recovery from total loss (issue 4 §6). The cell keeps a sealed, signed index of its own
// files and its peers (src/formats/file-index.ts) as an object on every reachable peer, with
// a pointer each holder serves back to its owner. A new machine with the imported keys pairs
// with one survivor, reads the index, learns every holder, and rebuilds the file listing.

export interface RecoveryDeps {
  home: Home;
  selfId: string;
  identity: KeyObject;
  master: Buffer;
  db: DB;
  objects: ObjectStore;
  client: PeerClient;
  peers: PeerRegistry;
  clock: () => number;
}

export function buildIndex(d: RecoveryDeps, now: number): FileIndex {
  const files = listVersions(d.db, { versions: true }).map((f) => ({
    path: f.path, name: f.name, version: f.version, size: f.size, file_hash: f.file_hash,
    manifest_hash: f.manifest_hash, chunks: f.chunks, added_at: f.added_at,
  }));
  const peers = d.peers.list().map((p) => ({
    id: p.id, name: p.name, x25519: p.x25519, preferred: p.preferred,
    routes: p.routes.filter((r) => r.kind !== 'mdns').map((r) => ({ url: r.url, kind: r.kind })),
  }));
  const grants = (d.db.prepare('SELECT grant_json FROM received_grants WHERE dropped_at IS NULL ORDER BY manifest_hash, creator').all() as { grant_json: string }[])
    .map((r) => JSON.parse(r.grant_json) as unknown);
  const shares = d.db.prepare('SELECT path, recipient FROM shares WHERE revoked_at IS NULL ORDER BY path, recipient').all() as { path: string; recipient: string }[];
  const chatSeq: Record<string, number> = {};
  for (const r of d.db.prepare("SELECT key, value FROM meta WHERE key LIKE 'chat_seq:%' ORDER BY key").all() as { key: string; value: string }[]) {
    chatSeq[r.key.slice('chat_seq:'.length)] = Number(r.value);
  }
  return { owner: d.selfId, created_at: now, files, peers, grants, shares, chat_seq: chatSeq };
}

/**
 * Seals a new index when the files or peers changed, then makes sure every reachable peer
 * holds the current one and points to it. Cheap when nothing changed: no bytes are sent.
 */
export async function refreshIndex(d: RecoveryDeps, reachable: Route[], s: RoundSummary, signal?: AbortSignal): Promise<void> {
  const now = d.clock();
  const idx = buildIndex(d, now);
  const { created_at: _at, ...content0 } = idx;
  const content = sha256Hex(canonicalJson(content0));
  let current = meta(d.db, 'index_hash');
  const old = current;
  if (meta(d.db, 'index_content') !== content || !current || !d.objects.has(current)) {
    const bytes = sealIndex(d.master, d.identity, idx);
    const { hash } = await d.objects.put(bytes);
    d.db.transaction(() => {
      recordObject(d.db, { hash, size: bytes.length, kind: 'index', owner: d.selfId }, now);
      setMeta(d.db, 'index_hash', hash);
      setMeta(d.db, 'index_created_at', String(now));
      setMeta(d.db, 'index_content', content);
    })();
    current = hash;
  }
  const createdAt = Number(meta(d.db, 'index_created_at') ?? now);
  for (const r of reachable) {
    if (meta(d.db, `index_at:${r.peerId}`) === current) continue;
    const sent = await pushObject(d.client, r, d.objects, current, 'index', signal);
    s.bytes_sent += sent;
    await d.client.call(r.url, r.peerId, 'POST', '/api/index', { json: { hash: current, created_at: createdAt }, signal });
    setMeta(d.db, `index_at:${r.peerId}`, current);
    const previous = meta(d.db, `index_prev:${r.peerId}`);
    if (previous && previous !== current) {
      await releaseObjects(d.client, r, [previous], signal).catch(() => []);
    }
    setMeta(d.db, `index_prev:${r.peerId}`, current);
  }
  if (old && old !== current) {
    d.db.transaction(() => recordRemoved(d.db, old))();
    await d.objects.remove(old);
  }
}

export interface RestoreResult {
  index_from: string;
  index_created_at: number;
  files: number;
  restored: number;
  peers_added: number;
  /** Grants other cells gave us, back in the Feed (re-verified; expired ones are skipped). */
  grants_restored: number;
  shares_restored: number;
  missing_manifests: string[];
}

/**
 * `grove restore`: finds the newest index any known peer holds for us, adds the peers it names,
 * and rebuilds the file listing from the manifests (fetched from whichever peer has them).
 */
export async function restoreFromPeers(d: RecoveryDeps, routes: () => Route[], signal?: AbortSignal): Promise<RestoreResult> {
  // A holder's pointer (hash, created_at) is only its word: a peer could point at an old index
  // of ours it kept, with a created_at far in the future, to roll the restore back. Only the
  // created_at sealed and signed inside the index itself decides which one is newest.
  const candidates: { route: Route; hash: string; claimed: number }[] = [];
  const errors: string[] = [];
  for (const r of routes()) {
    try {
      const res = await d.client.call<{ hash: string; created_at: number }>(r.url, r.peerId, 'GET', '/api/index', { signal });
      if (!isHash(res.data?.hash) || !Number.isSafeInteger(res.data.created_at)) continue;
      candidates.push({ route: r, hash: res.data.hash, claimed: res.data.created_at });
    } catch (e) {
      errors.push(`${r.peerId.slice(0, 12)}: ${describeError(e)}`);
    }
  }
  candidates.sort((a, b) => b.claimed - a.claimed);
  let best: { route: Route; hash: string; created_at: number; index: FileIndex } | undefined;
  const opened = new Set<string>();
  const pulled: string[] = [];
  for (const c of candidates) {
    // Honest holders claim the sealed value: once claims fall below the best opened, stop.
    if (best && c.claimed < best.created_at) break;
    if (opened.has(c.hash)) continue;
    let index: FileIndex;
    const had = d.objects.has(c.hash);
    try {
      if (!had) await pullObject(d.client, c.route, d.objects, c.hash, signal);
      index = openIndex(d.master, d.selfId, await d.objects.get(c.hash));
    } catch (e) {
      errors.push(`${c.route.peerId.slice(0, 12)}: ${describeError(e)}`);
      if (!had) await d.objects.remove(c.hash).catch(() => {});
      continue;
    }
    opened.add(c.hash);
    if (!had) pulled.push(c.hash);
    if (!best || index.created_at > best.created_at) best = { route: c.route, hash: c.hash, created_at: index.created_at, index };
  }
  // Older indexes fetched only to compare them are not kept.
  for (const h of pulled) if (h !== best?.hash) await d.objects.remove(h).catch(() => {});
  if (!best) {
    throw new GroveError('NOT_FOUND', `no peer holds an index for this cell${errors.length ? ` (${errors.join('; ')})` : ''}; pair with a surviving peer first`);
  }
  const index = best.index;
  const now = d.clock();
  recordObject(d.db, { hash: best.hash, size: (await d.objects.size(best.hash)) ?? 0, kind: 'index', owner: d.selfId }, now);

  let peersAdded = 0;
  for (const p of index.peers) {
    if (p.id === d.selfId) continue;
    const known = d.peers.get(p.id);
    const routesOk = p.routes.filter((r) => isRouteKind(r.kind)) as { url: string; kind: 'direct' | 'mdns' | 'relay' }[];
    try {
      if (d.peers.upsert({ id: p.id, name: known?.name ?? p.name, x25519: p.x25519 }, routesOk)) peersAdded++;
      if (p.preferred) d.peers.setPreferred(p.id, true);
    } catch {
      // A malformed entry in our own signed index is not fatal; skip it.
    }
  }

  const missing: string[] = [];
  let restored = 0;
  const allRoutes = routes();
  for (const f of index.files) {
    if (byManifest(d.db, f.manifest_hash)) continue;
    if (!d.objects.has(f.manifest_hash)) {
      let got = false;
      for (const r of [best.route, ...allRoutes]) {
        try {
          await pullObject(d.client, r, d.objects, f.manifest_hash, signal);
          got = true;
          break;
        } catch {
          /* try the next peer */
        }
      }
      if (!got) {
        missing.push(f.manifest_hash);
        continue;
      }
    }
    const sealed = await d.objects.get(f.manifest_hash);
    const m = openManifest(fileKey(d.master, Buffer.from(f.file_hash, 'hex')), sealed);
    d.db.transaction(() => {
      recordObject(d.db, { hash: f.manifest_hash, size: sealed.length, kind: 'manifest', owner: d.selfId }, now);
      insertVersion(d.db, {
        path: f.path, name: f.name, version: f.version, size: m.total_size, file_hash: m.file_hash,
        manifest_hash: f.manifest_hash, chunks: m.chunks.length, added_at: f.added_at,
      }, m.chunks);
    })();
    restored++;
  }
  // The Feed: each grant is checked again exactly as if its creator had just sent it.
  let grantsRestored = 0;
  for (const g of index.grants ?? []) {
    const creator = (g as { creator_pubkey?: unknown } | null)?.creator_pubkey;
    if (typeof creator !== 'string') continue;
    try {
      if (receiveGrant(d.home, creator, g, now).accepted) grantsRestored++;
    } catch {
      // Expired or no longer valid: the sharer can share again.
    }
  }
  let sharesRestored = 0;
  for (const sh of index.shares ?? []) {
    if (!d.peers.get(sh.recipient)) continue;
    activateShare(d.db, sh.path, sh.recipient, now);
    sharesRestored++;
  }
  // Chat: continue each conversation's numbering after the last message the index saw.
  const setSeq = d.db.prepare(`INSERT INTO meta(key, value) VALUES (?, ?)
    ON CONFLICT(key) DO UPDATE SET value = CASE WHEN CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER) THEN excluded.value ELSE value END`);
  for (const [peer, seq] of Object.entries(index.chat_seq ?? {})) setSeq.run(`chat_seq:${peer}`, String(seq));
  // Re-read every peer's inventory from the start: placements are rebuilt from what holders say.
  d.db.prepare('UPDATE peer_sync SET inventory_seq = 0').run();
  return {
    index_from: best.route.peerId, index_created_at: best.created_at, files: index.files.length,
    restored, peers_added: peersAdded, grants_restored: grantsRestored, shares_restored: sharesRestored,
    missing_manifests: missing,
  };
}
