import type { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Home } from '../home/home.js';
import type { RoundSummary } from '../sync/round.js';
import type { PeerClient } from '../net/client.js';
import type { ObjectKind } from '../store/catalog.js';
import type { PeerRegistry, PeerRecord } from './registry.js';
import type { PeerRecords, PeerHealth } from './records.js';
import type { IdentityCard } from './identity.js';

// What the peer functions (probes, benchmarks, calls over the best route) need: the peer
// layer of a cell, built by the composition root (src/cell.ts) and handed to the features
// that talk to peers. Tests can pass a smaller fake.

export interface CellEventMap {
  /** A peer was added or re-paired (either side of pairing). */
  'peer-paired': [peer: PeerRecord];
  /** A probe of a peer finished. */
  probe: [peerId: string, health: PeerHealth];
  /** A peer's upload reached the holder's handler (before it is accepted or refused). */
  'upload-request': [o: { hash: string; owner: string }];
  /** A peer stored an object here (PUT /api/objects). */
  'object-stored': [o: { hash: string; size: number; kind: ObjectKind; owner: string; written: boolean }];
  /** A local object failed its hash when read (to be healed from a peer). */
  corrupt: [hash: string];
  /** A peer's chat message was accepted here (POST /api/chat). */
  'chat-received': [peerId: string];
  /** A queued chat message of ours was accepted by the peer. */
  'chat-delivered': [peerId: string, messageId: string];
  /** A grant from a peer was accepted (the Feed changed). */
  'grant-received': [from: string, manifestHash: string];
  /** A peer asked us to drop its grant (the Feed changed). */
  'grant-dropped': [from: string];
  /** A sync round finished (loop or `grove sync`). */
  'sync-done': [summary: RoundSummary];
}

export type CellEvents = EventEmitter<CellEventMap>;

export interface Timeouts {
  /** Per-route timeout of a health probe. */
  probeMs: number;
  /** Timeout of one 256 KiB benchmark transfer. */
  benchMs: number;
}

export interface PeerContext {
  readonly id: string;
  readonly clock: () => number;
  readonly log: Logger;
  readonly client: PeerClient;
  readonly peers: PeerRegistry;
  readonly records: PeerRecords;
  readonly events: CellEvents;
  readonly timeouts: Timeouts;
  /** How often each route gets a 256 KiB benchmark (config bench.interval_s, in ms). */
  readonly benchIntervalMs: number;
  /** This cell's advertised route URLs (config api.advertise, else derived from the listener). */
  routes(): string[];
  /** This cell's signed identity card. */
  card(): IdentityCard;
}

/** Pairing needs the invite secret, the name to print in codes and the used-token table. */
export interface PairingContext extends PeerContext {
  readonly home: { db: Home['db']; keys: Pick<Home['keys'], 'peerSecret'>; config: Pick<Home['config'], 'name' | 'invite'> };
}

/** The holder endpoints need the object store, its catalog and the quota. */
export interface HolderContext extends PeerContext {
  readonly home: Pick<Home, 'db' | 'objects' | 'config'>;
}
