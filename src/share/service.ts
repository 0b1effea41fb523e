import type { PeerContext } from '../peers/context.js';
import type { Home } from '../home/home.js';
import type { PeerRecord } from '../peers/registry.js';
import { createGrant, type ShareGrant } from '../formats/grant.js';
import { fileKey } from '../crypto/kdf.js';
import { resolveFile, byManifest, chunksOf, type FileVersion } from '../ingest/files.js';
import { confirmPlacement } from '../sync/placements.js';
import { pushObject } from '../sync/transfer.js';
import { GroveError, describeError, notFound, usage } from '../errors.js';
import { grantFilename, fileTypeOf } from './names.js';
import { PeerLink, KeyedMutex, isUnreachable, refusalStatus } from '../peers/link.js';
import type { PeerExchange } from '../sync/round.js';
import {
  activateShare, storeGrant, replaceUndeliveredGrant, getSentGrant, ungrantedLatest,
  undeliveredGrants, pendingUnshares, hasPendingFor, markGrantDelivered, markObjectsDelivered,
  markUnshareDelivered, recordError, revokeShare, holderHas, type SentGrantRow,
} from './sent.js';
import { MAX_GRANT_AGE_MS, isPinned } from './received.js';

// The sharer's side (seed "Sharing Flow", Sharer 1-3): sign a grant per recipient, push it to
// the recipient's /api/receive-grant, then push the manifest and chunks to its holder
// endpoint. What cannot be delivered now (recipient offline) is delivered at the next contact:
// the sync round's exchange, or the daemon seeing the peer come online. A share follows the
// path: newer versions get their own grant, until `grove unshare`.

/** Undelivered grants older than this are re-signed before delivery (recipients refuse MAX_GRANT_AGE_MS). */
export const GRANT_REFRESH_MS = MAX_GRANT_AGE_MS / 3;

export interface ShareOutcome {
  recipient: string;
  recipient_name: string;
  manifest_hash: string;
  /** The recipient accepted the grant and was sent the manifest and every chunk. */
  delivered: boolean;
  error?: string;
}

export interface UnshareOutcome {
  recipient: string;
  manifest_hash: string;
  /** The recipient answered: it dropped the grant (or never had it). */
  notified: boolean;
}

export interface DeliveryReport {
  /** Manifests now fully delivered to the peer. */
  delivered: string[];
  /** Manifests whose unshare the peer confirmed. */
  unshared: string[];
  pushed: number;
  bytes_sent: number;
  errors: { manifest_hash: string; error: string }[];
}

export class ShareService {
  private readonly mutex = new KeyedMutex();

  constructor(private readonly ctx: PeerContext & { home: Home }) {}

  /** `grove share FILE PEER…`: grants for the file's version to each peer, delivered now if they are reachable. */
  async share(query: string, peerArgs: string[], signal?: AbortSignal): Promise<{ grants: ShareOutcome[] }> {
    if (!peerArgs.length) throw usage('name at least one peer to share with');
    const { db } = this.ctx.home;
    const v = resolveFile(db, query);
    const recipients = dedupe(peerArgs.map((a) => this.ctx.peers.resolve(a)));
    const now = this.ctx.clock();
    for (const p of recipients) {
      const g = this.makeGrant(v, p, now);
      db.transaction(() => {
        activateShare(db, v.path, p.id, now);
        storeGrant(db, g, v.path, now);
      })();
    }
    const grants = await Promise.all(recipients.map(async (p): Promise<ShareOutcome> => {
      let error: string | undefined;
      try {
        const r = await this.deliver(p.id, undefined, signal);
        error = r.errors.find((e) => e.manifest_hash === v.manifest_hash)?.error;
      } catch (e) {
        if (signal?.aborted) throw e;
        if (!isUnreachable(e)) error = describeError(e);
      }
      const row = getSentGrant(db, v.manifest_hash, p.id);
      const out: ShareOutcome = { recipient: p.id, recipient_name: p.name, manifest_hash: v.manifest_hash, delivered: !!row?.objects_delivered_at };
      if (error) out.error = error;
      return out;
    }));
    return { grants };
  }

  /**
   * `grove unshare FILE PEER`: revokes the share (no newer versions, no further deliveries)
   * and asks the recipient to drop its grants. Bytes already delivered cannot be recalled.
   */
  async unshare(query: string, peerArg: string, signal?: AbortSignal): Promise<{ revoked: UnshareOutcome[] }> {
    const { db } = this.ctx.home;
    const v = resolveFile(db, query);
    const p = this.ctx.peers.resolve(peerArg);
    const { shared, manifests } = revokeShare(db, v.path, p.id, this.ctx.clock());
    if (!shared) throw notFound(`${v.name} is not shared with ${p.name}`);
    try {
      await this.deliver(p.id, undefined, signal);
    } catch (e) {
      if (signal?.aborted || !isUnreachable(e)) throw e;
    }
    return {
      revoked: manifests.map((m) => ({ recipient: p.id, manifest_hash: m, notified: !!getSentGrant(db, m, p.id)?.unshare_delivered_at })),
    };
  }

  /** Whether a grant this cell holds needs the object (for the holder's POST /api/release). */
  isPinned(hash: string): boolean {
    return isPinned(this.ctx.home, hash);
  }

  /** Whether anything is owed to this peer: grants, objects, unshares. */
  hasPending(peerId: string): boolean {
    return hasPendingFor(this.ctx.home.db, peerId);
  }

  /**
   * Delivers everything owed to one peer: grants for newer versions of shared files, unshare
   * requests, grants, then their objects. `url` pins the route (the sync round's); else the
   * best route. UNREACHABLE is thrown; a refusal of one grant is reported and the rest go on.
   */
  deliver(peerId: string, url?: string, signal?: AbortSignal): Promise<DeliveryReport> {
    return this.mutex.run(peerId, () => this.deliverNow(peerId, url, signal));
  }

  /** The sync-round hook (seed "Sync Flow" 4d "sync manifests and grants"). */
  readonly exchange: PeerExchange = {
    name: 'share',
    run: async (route, summary, signal) => {
      const r = await this.deliver(route.peerId, route.url, signal);
      summary.bytes_sent += r.bytes_sent;
      for (const e of r.errors) {
        summary.errors.push({ peer: route.peerId, step: 'share', error: `${e.manifest_hash.slice(0, 12)}: ${e.error}` });
      }
    },
  };

  private async deliverNow(peerId: string, url: string | undefined, signal?: AbortSignal): Promise<DeliveryReport> {
    const report: DeliveryReport = { delivered: [], unshared: [], pushed: 0, bytes_sent: 0, errors: [] };
    const peer = this.ctx.peers.get(peerId);
    if (!peer) return report;
    const { db } = this.ctx.home;
    this.grantNewVersions(peer);
    const unshares = pendingUnshares(db, peerId);
    const grants = undeliveredGrants(db, peerId);
    if (!unshares.length && !grants.length) return report;
    const link = new PeerLink(this.ctx, peerId, url);

    for (const row of unshares) {
      signal?.throwIfAborted();
      try {
        await link.call('POST', '/api/unshare', { json: { manifest_hash: row.manifest_hash }, signal });
      } catch (e) {
        if (refusalStatus(e) !== 404) {
          this.failed(report, row, e, signal);
          continue;
        }
        // 404: it holds no such grant from us (never arrived, or already dropped): done too.
      }
      markUnshareDelivered(db, row.manifest_hash, peerId, this.ctx.clock());
      report.unshared.push(row.manifest_hash);
    }

    for (const row of grants) {
      signal?.throwIfAborted();
      try {
        await this.deliverGrant(link, peer, row, report, signal);
        report.delivered.push(row.manifest_hash);
      } catch (e) {
        this.failed(report, row, e, signal);
      }
    }
    return report;
  }

  private async deliverGrant(link: PeerLink, peer: PeerRecord, row: SentGrantRow, report: DeliveryReport, signal?: AbortSignal): Promise<void> {
    const { db, objects } = this.ctx.home;
    if (row.grant_delivered_at === null) {
      const grant = this.freshGrant(row, peer);
      const r = await link.call<{ accepted?: unknown; duplicate?: unknown }>('POST', '/api/receive-grant', { json: grant, signal });
      if (r.data?.accepted !== true && r.data?.duplicate !== true) throw new GroveError('PEER_ERROR', 'the recipient did not accept the grant');
      markGrantDelivered(db, row.manifest_hash, peer.id, this.ctx.clock());
    }
    // Seed "Sharing Flow" 3: push manifest + chunks. Skipped: what the recipient already holds.
    const route = await link.route(signal);
    const todo: { hash: string; kind: 'manifest' | 'chunk' }[] = [{ hash: row.manifest_hash, kind: 'manifest' }];
    const seen = new Set([row.manifest_hash]);
    for (const c of chunksOf(db, row.manifest_hash)) {
      if (!seen.has(c.hash)) todo.push({ hash: c.hash, kind: 'chunk' });
      seen.add(c.hash);
    }
    for (const o of todo) {
      signal?.throwIfAborted();
      if (holderHas(db, o.hash, peer.id)) continue;
      const sent = await pushObject(this.ctx.client, route, objects, o.hash, o.kind, signal);
      report.bytes_sent += sent; // the report may be shared with other deliveries: add after the await
      report.pushed++;
      confirmPlacement(db, o.hash, peer.id, this.ctx.clock(), true);
    }
    markObjectsDelivered(db, row.manifest_hash, peer.id, this.ctx.clock());
  }

  /** The stored grant, re-signed first if it has waited long enough that the recipient would refuse it. */
  private freshGrant(row: SentGrantRow, peer: PeerRecord): ShareGrant {
    const stored = JSON.parse(row.grant_json) as ShareGrant;
    const now = this.ctx.clock();
    if (now - stored.granted_at < GRANT_REFRESH_MS) return stored;
    const v = byManifest(this.ctx.home.db, row.manifest_hash);
    if (!v) return stored; // the version is gone from our catalog: send what we have
    const g = this.makeGrant(v, peer, now);
    replaceUndeliveredGrant(this.ctx.home.db, g, now);
    return g;
  }

  /** A share follows its path: the latest version of each shared path gets a grant. */
  private grantNewVersions(peer: PeerRecord): void {
    const { db } = this.ctx.home;
    for (const { path, manifest_hash } of ungrantedLatest(db, peer.id)) {
      const v = byManifest(db, manifest_hash);
      if (!v) continue;
      const now = this.ctx.clock();
      const g = this.makeGrant(v, peer, now);
      storeGrant(db, g, path, now);
      this.ctx.log.info({ peer: peer.id, path, manifest: manifest_hash }, 'shared a newer version');
    }
  }

  private makeGrant(v: FileVersion, peer: PeerRecord, now: number): ShareGrant {
    const keys = this.ctx.home.keys;
    return createGrant({
      identity: keys.identity,
      creatorId: this.ctx.id,
      recipientId: peer.id,
      // From the peer's signed identity card, checked at pairing (never from anything the grant says).
      recipientX25519Raw: Buffer.from(peer.x25519, 'hex'),
      manifestHash: v.manifest_hash,
      fileKey: fileKey(keys.master, Buffer.from(v.file_hash, 'hex')),
      filename: grantFilename(v.name),
      fileType: fileTypeOf(v.name),
      totalSize: v.size,
      grantedAt: now,
    });
  }

  private failed(report: DeliveryReport, row: SentGrantRow, e: unknown, signal?: AbortSignal): void {
    // Unreachable or stopping: stop here, everything is retried at the next contact.
    if (isUnreachable(e) || signal?.aborted) throw e;
    const error = describeError(e);
    recordError(this.ctx.home.db, row.manifest_hash, row.recipient, error);
    report.errors.push({ manifest_hash: row.manifest_hash, error });
    this.ctx.log.warn({ peer: row.recipient, manifest: row.manifest_hash, err: error }, 'share delivery failed');
  }
}

function dedupe(peers: PeerRecord[]): PeerRecord[] {
  const seen = new Map<string, PeerRecord>();
  for (const p of peers) seen.set(p.id, p);
  return [...seen.values()];
}
