import type { KeyObject } from 'node:crypto';
import { getMeta as meta, setMeta, type DB } from '../store/db.js';
import type { ObjectStore } from '../store/objects.js';
import type { PeerClient } from '../net/client.js';
import { recordObject, recordRemoved } from '../store/catalog.js';
import { sealIndex, openIndex, sealIndexPage, openIndexPage, isPagedSection, type FileIndex, type PagedSection } from '../formats/file-index.js';
import { canonicalJson } from '../crypto/canonical.js';
import { sha256Hex } from '../crypto/hash.js';
import { isHash } from '../crypto/encoding.js';
import { GroveError, describeError } from '../errors.js';
import { pushObject, pullObject, releaseObjects, type Route } from '../sync/transfer.js';
import { MAX_RELEASE_BATCH } from '../sync/holder-routes.js';
import type { RoundSummary } from '../sync/round.js';
import type { IndexSections, RestoreCounts } from './sections.js';

// Recovery from total loss (docs/design.md §4 "Recovery"). The cell keeps a sealed, signed
// index (src/formats/file-index.ts) as an object on every reachable peer, with a pointer each
// holder serves back to its owner. Its content comes from the sections the features register
// (src/recovery/sections.ts); this module moves the index and reads no feature's tables.
// A new machine with the imported keys pairs with one survivor, reads the index, and each
// section brings its part back: peers, files, grants, shares, chat numbering.

export interface RecoveryDeps {
  sections: IndexSections;
  selfId: string;
  identity: KeyObject;
  master: Buffer;
  db: DB;
  objects: ObjectStore;
  client: PeerClient;
  clock: () => number;
}

interface BuiltIndex {
  index: FileIndex;
  /** The page objects the index names, in order. */
  pages: string[];
  /** Page content hash -> object: a page unchanged next time is the same object. */
  pageMap: Record<string, string>;
}

/**
 * The index of this cell now. A paged section's pages are stored as objects as they are made
 * (one page in memory at a time); a page whose content is the same as in the last index is
 * the same object again.
 */
export async function buildIndex(d: RecoveryDeps, now: number): Promise<BuiltIndex> {
  const previous = parseJson<Record<string, string>>(meta(d.db, 'index_page_map')) ?? {};
  const body: Record<string, unknown> = {};
  const pages: string[] = [];
  const pageMap: Record<string, string> = {};
  for (const section of d.sections.list()) {
    if (!section.pages) {
      body[section.name] = section.collect();
      continue;
    }
    const value: PagedSection = { pages: [], count: 0 };
    for (const items of section.pages()) {
      const page = { owner: d.selfId, section: section.name, items };
      // Only a fingerprint: the section's pages are deterministic, so the plain serialization
      // will do (canonical JSON, much dearer, is made only to seal a new page).
      const key = sha256Hex(JSON.stringify(page));
      let hash = previous[key];
      if (!hash || !d.objects.has(hash)) {
        const bytes = sealIndexPage(d.master, page);
        hash = (await d.objects.put(bytes)).hash;
        recordObject(d.db, { hash, size: bytes.length, kind: 'index', owner: d.selfId }, now);
      }
      pageMap[key] = hash;
      value.pages.push(hash);
      value.count += items.length;
    }
    body[section.name] = value;
    pages.push(...value.pages);
  }
  return { index: { ...body, owner: d.selfId, created_at: now }, pages, pageMap };
}

function parseJson<T>(v: string | undefined): T | undefined {
  if (v === undefined) return undefined;
  try {
    return JSON.parse(v) as T;
  } catch {
    return undefined;
  }
}

const hashList = (v: string | undefined): string[] => (parseJson<unknown>(v) as unknown[] | undefined ?? []).filter(isHash);

/**
 * Seals a new index when the files or peers changed, then makes sure every reachable peer
 * holds the current one (and its pages) and points to it. Cheap when nothing changed: the
 * sections' revision mark says so without building anything, and no bytes are sent.
 */
export async function refreshIndex(d: RecoveryDeps, reachable: Route[], s: RoundSummary, signal?: AbortSignal): Promise<void> {
  const now = d.clock();
  let current = meta(d.db, 'index_hash');
  const old = current;
  const oldPages = hashList(meta(d.db, 'index_pages'));
  let pages = oldPages;
  const mark = d.sections.mark();
  if (meta(d.db, 'index_mark') !== mark || !current || !d.objects.has(current)) {
    const built = await buildIndex(d, now);
    const { created_at: _at, ...content0 } = built.index;
    const content = sha256Hex(canonicalJson(content0));
    if (meta(d.db, 'index_content') !== content || !current || !d.objects.has(current)) {
      const bytes = sealIndex(d.master, d.identity, built.index);
      const { hash } = await d.objects.put(bytes);
      d.db.transaction(() => {
        recordObject(d.db, { hash, size: bytes.length, kind: 'index', owner: d.selfId }, now);
        setMeta(d.db, 'index_hash', hash);
        setMeta(d.db, 'index_created_at', String(now));
        setMeta(d.db, 'index_content', content);
        setMeta(d.db, 'index_pages', JSON.stringify(built.pages));
        setMeta(d.db, 'index_page_map', JSON.stringify(built.pageMap));
      })();
      current = hash;
      pages = built.pages;
    }
    setMeta(d.db, 'index_mark', mark);
  }
  const createdAt = Number(meta(d.db, 'index_created_at') ?? now);
  for (const r of reachable) {
    if (meta(d.db, `index_at:${r.peerId}`) === current) continue;
    // Its pages first (those it does not have yet), so the index it points to is complete.
    const theirs = new Set(hashList(meta(d.db, `index_pages_at:${r.peerId}`)));
    for (const p of pages) {
      if (!theirs.has(p)) s.bytes_sent += await pushObject(d.client, r, d.objects, p, 'index', signal);
    }
    const sent = await pushObject(d.client, r, d.objects, current, 'index', signal);
    s.bytes_sent += sent;
    await d.client.call(r.url, r.peerId, 'POST', '/api/index', { json: { hash: current, created_at: createdAt }, signal });
    setMeta(d.db, `index_at:${r.peerId}`, current);
    const keep = new Set(pages);
    const previous = meta(d.db, `index_prev:${r.peerId}`);
    const drop = [...(previous && previous !== current ? [previous] : []), ...[...theirs].filter((p) => !keep.has(p))];
    for (let i = 0; i < drop.length; i += MAX_RELEASE_BATCH) {
      await releaseObjects(d.client, r, drop.slice(i, i + MAX_RELEASE_BATCH), signal).catch(() => []);
    }
    setMeta(d.db, `index_prev:${r.peerId}`, current);
    setMeta(d.db, `index_pages_at:${r.peerId}`, JSON.stringify(pages));
  }
  const gone = [...(old && old !== current ? [old] : []), ...oldPages.filter((p) => !pages.includes(p))];
  if (gone.length) {
    d.db.transaction(() => { for (const h of gone) recordRemoved(d.db, h); })();
    for (const h of gone) await d.objects.remove(h);
  }
}

export interface RestoreResult {
  index_from: string;
  index_created_at: number;
  /** Counts from each section: files, restored, missing_manifests, peers_added, grants_restored, shares_restored, … */
  [count: string]: number | string | string[];
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

  const first = best.route;
  const fetchObject = async (hash: string): Promise<boolean> => {
    if (d.objects.has(hash)) return true;
    for (const r of [first, ...routes()]) {
      try {
        await pullObject(d.client, r, d.objects, hash, signal);
        return true;
      } catch {
        if (signal?.aborted) throw signal.reason;
        /* try the next peer */
      }
    }
    return false;
  };
  const result: RestoreResult = { index_from: best.route.peerId, index_created_at: best.created_at };
  for (const section of d.sections.list()) {
    signal?.throwIfAborted();
    let value = index[section.name];
    if (section.pages && isPagedSection(value)) value = await readPages(d, section.name, value, fetchObject);
    const counts: RestoreCounts = await section.restore(value, { now, signal, fetchObject });
    Object.assign(result, counts);
  }
  return result;
}

/** The items of a paged section, page by page from the peers; the pages are not kept. */
export async function readPages(d: RecoveryDeps, section: string, value: PagedSection, fetchObject: (hash: string) => Promise<boolean>): Promise<unknown[]> {
  const items: unknown[] = [];
  for (const hash of value.pages) {
    if (!isHash(hash)) throw new GroveError('CORRUPT', 'invalid index page reference');
    const had = d.objects.has(hash);
    if (!had && !(await fetchObject(hash))) throw new GroveError('NOT_FOUND', `a page of the index (${section}) is on no reachable peer; run \`grove restore\` again when more peers are online`);
    try {
      items.push(...openIndexPage(d.master, d.selfId, section, await d.objects.get(hash)));
    } finally {
      if (!had) await d.objects.remove(hash).catch(() => {});
    }
  }
  return items;
}
