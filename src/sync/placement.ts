import { badInput } from '../errors.js';

// Placement policy (seed "Placement & Replication", docs/design.md §4): where this cell's objects
// should live on peer cells. Pure: plain data in, a plan out; no I/O, no clock reads. The sync
// round gathers the input, runs the plan, and carries it out. See src/sync/README.md.

/** Seed rule 1, docs/design.md §4: copies on peer cells, not counting the owner's own. */
export const DEFAULT_REPLICATION_FACTOR = 2;

/**
 * A placement record. `confirmed`: the holder said it has the object (its signed answer to our
 * push, or its inventory); a push is recorded only once acknowledged, so there is no in-flight
 * state. `releasing`: we asked the holder to drop it; such a record is not a copy.
 */
export type HolderState = 'confirmed' | 'releasing';

export interface Holder {
  peer: string;
  state: HolderState;
}

export interface PeerInfo {
  id: string;
  preferred: boolean;
  /** Effective score of the peer's best route (lower is better); undefined = no route. */
  score?: number;
  /** The latest probe succeeded. */
  online: boolean;
  /** ms timestamp of the last successful probe. */
  lastSeen?: number;
  /** The peer refused a push or is over quota this round. */
  refusing?: boolean;
  /** Bytes of quota left for us at that peer, if known. */
  freeBytes?: number;
}

export interface PlacedObject {
  hash: string;
  /** Bytes the object takes at a holder (stored size), checked against `freeBytes`. */
  size: number;
}

/** What copy counting needs: who holds what, and how healthy the holders are at `now`. */
export interface CopyView {
  now: number;
  offlineGraceMs: number;
  holders: Readonly<Record<string, readonly Holder[]>>;
  peers: readonly PeerInfo[];
}

export interface PlacementInput extends CopyView {
  /** Desired peer copies; default DEFAULT_REPLICATION_FACTOR. */
  factor?: number;
  /** This cell's own objects (chunks and manifests) to place. */
  objects: readonly PlacedObject[];
}

export interface PlacementAction {
  hash: string;
  peer: string;
}

export interface AtRisk {
  hash: string;
  /** Healthy confirmed peer copies. */
  copies: number;
  desired: number;
}

/**
 * Lists are in a fixed order: objects most at risk first (fewest healthy confirmed copies,
 * then hash); within one object, pushes best peer first and releases worst holder first.
 */
export interface Plan {
  push: PlacementAction[];
  release: PlacementAction[];
  atRisk: AtRisk[];
}

interface ObjectState {
  obj: PlacedObject;
  /** Live confirmed holders: the object's healthy copies, what the cap counts (rule 4). */
  counted: PeerInfo[];
  /** Peers with a confirmed record, live or not: not push targets. */
  recorded: Set<string>;
  /** How many healthy copies: `counted.length`. */
  copies: number;
}

const STATE_STRENGTH: Record<HolderState, number> = { releasing: 0, confirmed: 1 };

const compareStrings = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Rule 2: a peer without a usable route ranks after every peer with one. */
const scoreOf = (p: PeerInfo) => (typeof p.score === 'number' && Number.isFinite(p.score) ? p.score : Infinity);

/** Rules 2-3: preferred peers first, then fastest (lowest score), then id. */
function compareRank(a: PeerInfo, b: PeerInfo): number {
  if (a.preferred !== b.preferred) return a.preferred ? -1 : 1;
  const sa = scoreOf(a);
  const sb = scoreOf(b);
  if (sa !== sb) return sa < sb ? -1 : 1;
  return compareStrings(a.id, b.id);
}

/** Rule 4: releases drop non-preferred holders first, then the slowest, then by id. */
function compareDrop(a: PeerInfo, b: PeerInfo): number {
  if (a.preferred !== b.preferred) return a.preferred ? 1 : -1;
  const sa = scoreOf(a);
  const sb = scoreOf(b);
  if (sa !== sb) return sa > sb ? -1 : 1;
  return compareStrings(a.id, b.id);
}

/**
 * Rule 5 (self-healing): a holder counts while it is online or has been offline for at most
 * the grace period, so a short blip causes no churn. An unknown peer, or one never seen, does not.
 */
function isLive(p: PeerInfo | undefined, now: number, graceMs: number): p is PeerInfo {
  if (!p) return false;
  if (p.online) return true;
  return typeof p.lastSeen === 'number' && now - p.lastSeen <= graceMs;
}

/** A copy a release may rely on: a confirmed holder (every counted one is) that answers right now. */
const isSafe = (p: PeerInfo) => p.online;

function hasRoom(p: PeerInfo, size: number, reserved: ReadonlyMap<string, number>): boolean {
  if (typeof p.freeBytes !== 'number' || Number.isNaN(p.freeBytes)) return true;
  return size <= p.freeBytes - (reserved.get(p.id) ?? 0);
}

/** Pushes go only to peers that are online, willing, reachable, and have room. */
function canReceive(p: PeerInfo, size: number, reserved: ReadonlyMap<string, number>): boolean {
  return p.online && !p.refusing && scoreOf(p) !== Infinity && hasRoom(p, size, reserved);
}

function indexPeers(peers: readonly PeerInfo[]): Map<string, PeerInfo> {
  const byId = new Map<string, PeerInfo>();
  for (const p of peers) {
    if (byId.has(p.id)) throw badInput(`peer listed twice: ${p.id}`);
    byId.set(p.id, p);
  }
  return byId;
}

/** One state per peer: a duplicated record takes its strongest state. */
function recordsOf(hash: string, view: CopyView): Map<string, HolderState> {
  const states = new Map<string, HolderState>();
  for (const h of view.holders[hash] ?? []) {
    const prev = states.get(h.peer);
    if (!prev || STATE_STRENGTH[h.state] > STATE_STRENGTH[prev]) states.set(h.peer, h.state);
  }
  return states;
}

function objectState(obj: PlacedObject, view: CopyView, peers: ReadonlyMap<string, PeerInfo>): ObjectState {
  const counted: PeerInfo[] = [];
  const recorded = new Set<string>();
  for (const [id, state] of recordsOf(obj.hash, view)) {
    if (state === 'releasing') continue;
    recorded.add(id);
    const peer = peers.get(id);
    if (isLive(peer, view.now, view.offlineGraceMs)) counted.push(peer);
  }
  return { obj, counted, recorded, copies: counted.length };
}

function validateContext(c: PlanContext, factor: number): void {
  if (!Number.isSafeInteger(factor) || factor < 1) throw badInput('replication factor must be a positive integer');
  if (!Number.isFinite(c.now)) throw badInput('now must be a finite time');
  if (!Number.isFinite(c.offlineGraceMs) || c.offlineGraceMs < 0) {
    throw badInput('offline grace must be a non-negative duration');
  }
}

function validateObjects(objects: readonly PlacedObject[]): void {
  for (const o of objects) {
    if (!Number.isSafeInteger(o.size) || o.size < 0) throw badInput(`bad object size: ${o.hash}`);
  }
}

/** Each hash once (the largest size wins), so the cap holds even for a repeated object. */
function uniqueObjects(objects: readonly PlacedObject[]): PlacedObject[] {
  const byHash = new Map<string, PlacedObject>();
  for (const o of objects) {
    const prev = byHash.get(o.hash);
    if (!prev || o.size > prev.size) byHash.set(o.hash, o);
  }
  return [...byHash.values()];
}

/** Most at risk first, so scarce quota goes where copies are fewest. */
const byRisk = (a: ObjectState, b: ObjectState) => a.copies - b.copies || compareStrings(a.obj.hash, b.obj.hash);

/**
 * Rules 1-3: fill up to the factor from the ranked peers (preferred first, then fastest),
 * skipping peers that already hold it and reserving quota in `reserved` for later objects.
 */
function choosePushes(
  s: ObjectState, factor: number, ranked: readonly PeerInfo[], reserved: Map<string, number>,
): PlacementAction[] {
  const out: PlacementAction[] = [];
  const need = factor - s.counted.length;
  for (const p of ranked) {
    if (out.length >= need) break;
    if (s.recorded.has(p.id) || !canReceive(p, s.obj.size, reserved)) continue;
    reserved.set(p.id, (reserved.get(p.id) ?? 0) + s.obj.size);
    out.push({ hash: s.obj.hash, peer: p.id });
  }
  return out;
}

/**
 * Rule 4: drop counted holders beyond the factor, worst first, but only while at least
 * `factor` other copies stay confirmed and online; so never the last confirmed copies.
 */
function chooseReleases(s: ObjectState, factor: number): PlacementAction[] {
  const out: PlacementAction[] = [];
  let counted = s.counted.length;
  let safe = s.counted.filter(isSafe).length;
  for (const h of [...s.counted].sort(compareDrop)) {
    if (counted <= factor) break;
    const safeAfter = safe - (isSafe(h) ? 1 : 0);
    if (safeAfter < factor) continue;
    out.push({ hash: s.obj.hash, peer: h.id });
    counted -= 1;
    safe = safeAfter;
  }
  return out;
}

/** What a plan needs besides the objects and their holders. */
export type PlanContext = Omit<PlacementInput, 'objects' | 'holders'>;

/** A plan built page by page: `atRisk` lists at most the objects acted on, `atRiskCount` counts them all. */
export interface PagedPlan extends Plan {
  atRiskCount: number;
  /** Objects whose healthy copies differ from the factor (all of them, kept or not). */
  candidates: number;
}

/**
 * The placement plan over objects given a page at a time, so a catalog of a million objects
 * never has to be in memory at once. Only an object whose healthy copies differ from the
 * factor needs a push or a release (or is at risk); the builder keeps those, at most
 * `maxObjects` of them, most at risk first (fewest copies, then hash). With every such object
 * kept, the plan is the one `planPlacement` makes of all the pages together; with fewer, it
 * is that plan's first `maxObjects` objects (its push and release lists are prefixes of it),
 * and the rest wait for the next round. Each hash must come in one page only, with all its
 * holders.
 */
export class PlanBuilder {
  private readonly factor: number;
  private readonly peers: Map<string, PeerInfo>;
  private readonly kept: ObjectState[] = [];
  private atRiskCount = 0;
  private candidates = 0;
  private readonly live: Set<string>;

  constructor(private readonly ctx: PlanContext, private readonly maxObjects = Infinity) {
    this.factor = ctx.factor ?? DEFAULT_REPLICATION_FACTOR;
    validateContext(ctx, this.factor);
    if (!(maxObjects >= 1)) throw badInput('a plan needs room for at least one object');
    this.peers = indexPeers(ctx.peers);
    this.live = new Set(livePeers(ctx.peers, ctx.now, ctx.offlineGraceMs));
  }

  add(objects: readonly PlacedObject[], holders: Readonly<Record<string, readonly Holder[]>>): void {
    for (const o of objects) this.addObject(o, holders[o.hash] ?? []);
  }

  /** One object and all its records. */
  addObject(o: PlacedObject, holders: readonly Holder[]): void {
    validateObjects([o]);
    // Most objects have exactly `factor` healthy copies and need nothing: counted here without
    // building their state (a million objects a round).
    if (this.healthyCopies(holders) === this.factor) return;
    const s = objectState(o, { now: this.ctx.now, offlineGraceMs: this.ctx.offlineGraceMs, holders: { [o.hash]: holders }, peers: this.ctx.peers }, this.peers);
    if (s.copies < this.factor) this.atRiskCount++;
    this.candidates++;
    this.kept.push(s);
    // Sorting once the list holds twice the room keeps memory bounded at O(maxObjects log n) work.
    if (this.kept.length > 2 * this.maxObjects) this.trim();
  }

  /** Distinct live peers with a confirmed record: `objectState(…).copies`, without its allocations. */
  private healthyCopies(holders: readonly Holder[]): number {
    let n = 0;
    for (let i = 0; i < holders.length; i++) {
      const h = holders[i]!;
      if (h.state !== 'confirmed' || !this.live.has(h.peer)) continue;
      let seen = false;
      for (let j = 0; j < i && !seen; j++) seen = holders[j]!.peer === h.peer && holders[j]!.state === 'confirmed';
      if (!seen) n++;
    }
    return n;
  }

  finish(): PagedPlan {
    this.trim();
    const ranked = [...this.peers.values()].sort(compareRank);
    const reserved = new Map<string, number>();
    const plan: PagedPlan = { push: [], release: [], atRisk: [], atRiskCount: this.atRiskCount, candidates: this.candidates };
    for (const s of this.kept) {
      if (s.copies < this.factor) plan.atRisk.push({ hash: s.obj.hash, copies: s.copies, desired: this.factor });
      if (s.counted.length < this.factor) plan.push.push(...choosePushes(s, this.factor, ranked, reserved));
      else if (s.counted.length > this.factor) plan.release.push(...chooseReleases(s, this.factor));
    }
    return plan;
  }

  private trim(): void {
    this.kept.sort(byRisk);
    if (this.kept.length > this.maxObjects) this.kept.length = this.maxObjects;
  }
}

/** The placement plan for one sync round (seed "Replication Strategy" rules 1-5). */
export function planPlacement(input: PlacementInput): Plan {
  const builder = new PlanBuilder(input);
  validateObjects(input.objects);
  builder.add(uniqueObjects(input.objects), input.holders);
  const { push, release, atRisk } = builder.finish();
  return { push, release, atRisk };
}

/** Rule 5: the peers whose copies count at `now` (online, or offline within the grace period). */
export function livePeers(peers: readonly PeerInfo[], now: number, offlineGraceMs: number): string[] {
  return peers.filter((p) => isLive(p, now, offlineGraceMs)).map((p) => p.id).sort();
}

/**
 * Healthy confirmed peer copies of a file: the fewest over its objects (pass the manifest and
 * chunk hashes). `grove ls` shows it as "copies"; 0 for an empty list.
 */
export function countCopies(hashes: readonly string[], view: CopyView): number {
  const peers = indexPeers(view.peers);
  let fewest: number | undefined;
  for (const hash of hashes) {
    const { copies } = objectState({ hash, size: 0 }, view, peers);
    if (fewest === undefined || copies < fewest) fewest = copies;
  }
  return fewest ?? 0;
}

/** How many of these objects have fewer than `factor` healthy confirmed copies (`grove status` at_risk). */
export function countAtRisk(hashes: readonly string[], view: CopyView, factor: number = DEFAULT_REPLICATION_FACTOR): number {
  const peers = indexPeers(view.peers);
  let n = 0;
  for (const hash of new Set(hashes)) {
    if (objectState({ hash, size: 0 }, view, peers).copies < factor) n += 1;
  }
  return n;
}
