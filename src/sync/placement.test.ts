import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  countAtRisk, countCopies, DEFAULT_REPLICATION_FACTOR, planPlacement, PlanBuilder,
  type Holder, type HolderState, type PeerInfo, type Plan, type PlacementInput,
} from './placement.js';
import { isGroveError } from '../errors.js';

const NOW = 1_700_000_000_000;
const GRACE = 60 * 60 * 1000;

const peer = (id: string, over: Partial<PeerInfo> = {}): PeerInfo => ({
  id, preferred: false, score: 10, online: true, lastSeen: NOW, ...over,
});
const held = (state: HolderState, ...peers: string[]): Holder[] => peers.map((p) => ({ peer: p, state }));
const confirmed = (...peers: string[]) => held('confirmed', ...peers);

function plan(over: Partial<PlacementInput>): Plan {
  return planPlacement({
    factor: 2, now: NOW, offlineGraceMs: GRACE, objects: [{ hash: 'h1', size: 100 }], holders: {}, peers: [], ...over,
  });
}
const pushed = (p: Plan, hash = 'h1') => p.push.filter((x) => x.hash === hash).map((x) => x.peer);
const released = (p: Plan, hash = 'h1') => p.release.filter((x) => x.hash === hash).map((x) => x.peer);
const throwsBadInput = (fn: () => unknown) =>
  assert.throws(fn, (e: unknown) => isGroveError(e) && e.code === 'BAD_INPUT');

describe('rule 1: desired factor', () => {
  it('defaults to 2 peer copies', () => {
    assert.equal(DEFAULT_REPLICATION_FACTOR, 2);
    const p = planPlacement({
      now: NOW, offlineGraceMs: GRACE, objects: [{ hash: 'h1', size: 1 }], holders: {},
      peers: [peer('a'), peer('b'), peer('c')],
    });
    assert.equal(p.push.length, 2);
  });
  it('pushes up to a larger factor', () => {
    assert.deepEqual(pushed(plan({ factor: 3, peers: [peer('a'), peer('b'), peer('c'), peer('d')] })), ['a', 'b', 'c']);
  });
  it('an object at exactly the factor needs nothing', () => {
    const p = plan({ holders: { h1: confirmed('a', 'b') }, peers: [peer('a'), peer('b'), peer('c')] });
    assert.deepEqual(p, { push: [], release: [], atRisk: [] });
  });
  it('tops up a partly placed object', () => {
    const p = plan({ holders: { h1: confirmed('a') }, peers: [peer('a'), peer('b'), peer('c', { score: 5 })] });
    assert.deepEqual(pushed(p), ['c']);
  });
  it('rejects a factor that is not a positive integer', () => {
    throwsBadInput(() => plan({ factor: 0 }));
    throwsBadInput(() => plan({ factor: 1.5 }));
  });
  it('rejects malformed input', () => {
    throwsBadInput(() => plan({ peers: [peer('a'), peer('a')] }));
    throwsBadInput(() => plan({ objects: [{ hash: 'h1', size: -1 }] }));
    throwsBadInput(() => plan({ offlineGraceMs: -1 }));
    throwsBadInput(() => plan({ now: Number.NaN }));
  });
  it('places a repeated object once', () => {
    const p = plan({ objects: [{ hash: 'h1', size: 1 }, { hash: 'h1', size: 1 }], peers: [peer('a'), peer('b'), peer('c')] });
    assert.equal(p.push.length, 2);
  });
});

describe('rule 2: speed-ranked peers', () => {
  it('fastest (lowest score) first', () => {
    const p = plan({ peers: [peer('slow', { score: 90 }), peer('fast', { score: 5 }), peer('mid', { score: 40 })] });
    assert.deepEqual(pushed(p), ['fast', 'mid']);
  });
  it('negative scores (high throughput) rank best', () => {
    const p = plan({ factor: 1, peers: [peer('a', { score: 3 }), peer('b', { score: -12 })] });
    assert.deepEqual(pushed(p), ['b']);
  });
  it('equal scores break ties by id', () => {
    assert.deepEqual(pushed(plan({ peers: [peer('c'), peer('a'), peer('b')] })), ['a', 'b']);
  });
  it('a peer without a route gets nothing', () => {
    const p = plan({ peers: [peer('noroute', { score: undefined }), peer('nan', { score: Number.NaN }), peer('ok')] });
    assert.deepEqual(pushed(p), ['ok']);
  });
});

describe('rule 3: preferred peers first', () => {
  it('a preferred peer is chosen before faster others', () => {
    const p = plan({ peers: [peer('fast', { score: 1 }), peer('fav', { score: 80, preferred: true }), peer('mid', { score: 5 })] });
    assert.deepEqual(pushed(p), ['fav', 'fast']);
  });
  it('more preferred peers than the factor: the fastest preferred, and never past the factor', () => {
    const p = plan({
      peers: [peer('f1', { preferred: true, score: 30 }), peer('f2', { preferred: true, score: 10 }),
        peer('f3', { preferred: true, score: 20 }), peer('x', { score: 1 })],
    });
    assert.deepEqual(pushed(p), ['f2', 'f3']);
  });
  it('an unavailable preferred peer is skipped', () => {
    const p = plan({ peers: [peer('fav', { preferred: true, online: false }), peer('a'), peer('b')] });
    assert.deepEqual(pushed(p), ['a', 'b']);
  });
  it('the cap wins: an object already at the factor is not moved to a newly preferred peer', () => {
    const p = plan({ holders: { h1: confirmed('a', 'b') }, peers: [peer('a'), peer('b'), peer('fav', { preferred: true })] });
    assert.deepEqual(p.push, []);
    assert.deepEqual(p.release, []);
  });
});

describe('rule 4: strict cap', () => {
  it('an acknowledged push is a confirmed copy: it counts toward the cap and is safe', () => {
    const p = plan({ holders: { h1: confirmed('a', 'b') }, peers: [peer('a'), peer('b'), peer('c', { score: 1 })] });
    assert.deepEqual(p.push, [], 'no push beyond the factor, even to a faster peer');
    assert.deepEqual(p.atRisk, []);
  });
  it('a push that was not acknowledged left no record: the next round picks a peer again', () => {
    const p = plan({ holders: { h1: confirmed('a') }, peers: [peer('a'), peer('b'), peer('c')] });
    assert.deepEqual(pushed(p), ['b']);
    assert.deepEqual(p.atRisk, [{ hash: 'h1', copies: 1, desired: 2 }]);
  });
  it('releases the extra copy from the slowest non-preferred holder', () => {
    const p = plan({
      holders: { h1: confirmed('a', 'b', 'c') },
      peers: [peer('a', { score: 5 }), peer('b', { score: 50 }), peer('c', { score: 20 })],
    });
    assert.deepEqual(p.release, [{ hash: 'h1', peer: 'b' }]);
    assert.deepEqual(p.push, []);
  });
  it('keeps preferred holders even when they are the slowest', () => {
    const p = plan({
      holders: { h1: confirmed('fav', 'a', 'b') },
      peers: [peer('fav', { preferred: true, score: 99 }), peer('a', { score: 5 }), peer('b', { score: 7 })],
    });
    assert.deepEqual(released(p), ['b']);
  });
  it('releases a holder without a route before a measured one', () => {
    const p = plan({
      holders: { h1: confirmed('a', 'b', 'c') },
      peers: [peer('a', { score: 50 }), peer('b', { score: undefined }), peer('c', { score: 60 })],
    });
    assert.deepEqual(released(p), ['b']);
  });
  it('releases several extras down to exactly the factor', () => {
    const p = plan({
      factor: 1, holders: { h1: confirmed('a', 'b', 'c') },
      peers: [peer('a', { score: 1 }), peer('b', { score: 2 }), peer('c', { score: 3 })],
    });
    assert.deepEqual(released(p), ['c', 'b']);
  });
  it('no release unless `factor` other copies are confirmed and online', () => {
    // a: confirmed, online; b and c: confirmed but offline (within grace).
    const p = plan({
      holders: { h1: confirmed('a', 'b', 'c') },
      peers: [peer('a'), peer('b', { online: false, lastSeen: NOW - 1000 }), peer('c', { online: false, lastSeen: NOW - 1000 })],
    });
    assert.deepEqual(p.release, []);
  });
  it('drops an offline extra rather than an online copy it would need, even a faster one', () => {
    const p = plan({
      holders: { h1: confirmed('a', 'b', 'c') },
      peers: [peer('a', { score: 10 }), peer('b', { score: 20 }), peer('c', { score: 1, online: false, lastSeen: NOW - 1000 })],
    });
    assert.deepEqual(released(p), ['c']);
  });
  it('never releases the last confirmed online copy, even the slowest', () => {
    const p = plan({
      factor: 1, holders: { h1: confirmed('a', 'b') },
      peers: [peer('a', { score: 90 }), peer('b', { score: 1, online: false, lastSeen: NOW - 1000 })],
    });
    assert.deepEqual(released(p), ['b']);
  });
  it('a releasing record does not count; the peer may be pushed again (the push supersedes the release)', () => {
    const p = plan({
      holders: { h1: [...confirmed('a'), ...held('releasing', 'b')] },
      peers: [peer('a'), peer('b', { score: 1 }), peer('c', { score: 5 })],
    });
    assert.deepEqual(pushed(p), ['b']);
    assert.deepEqual(p.release, [], 'no release is planned again for a record already releasing');
  });
  it('duplicate records for one peer count once, with the strongest state', () => {
    const p = plan({
      holders: { h1: [...held('releasing', 'a'), ...confirmed('a'), ...held('releasing', 'a')] },
      peers: [peer('a'), peer('b')],
    });
    assert.deepEqual(pushed(p), ['b']);
    assert.deepEqual(p.atRisk, [{ hash: 'h1', copies: 1, desired: 2 }]);
  });
});

describe('rule 5: self-healing with a grace period', () => {
  const peers = (a: Partial<PeerInfo>) => [peer('a', a), peer('b', { score: 20 }), peer('c', { score: 30 })];
  const holders = { h1: confirmed('a', 'b') };

  it('a holder offline past the grace period does not count: a replacement is pushed', () => {
    const p = plan({ holders, peers: peers({ online: false, lastSeen: NOW - GRACE - 1 }) });
    assert.deepEqual(p.push, [{ hash: 'h1', peer: 'c' }]);
    assert.deepEqual(p.atRisk, [{ hash: 'h1', copies: 1, desired: 2 }]);
  });
  it('a holder offline within the grace period still counts: no churn on a blip', () => {
    const p = plan({ holders, peers: peers({ online: false, lastSeen: NOW - GRACE }) });
    assert.deepEqual(p, { push: [], release: [], atRisk: [] });
  });
  it('an offline holder never seen does not count', () => {
    assert.deepEqual(pushed(plan({ holders, peers: peers({ online: false, lastSeen: undefined }) })), ['c']);
  });
  it('a holder that is not a known peer does not count', () => {
    const p = plan({ holders: { h1: confirmed('gone', 'b') }, peers: peers({}) });
    assert.deepEqual(pushed(p), ['a']);
  });
  it('a dead holder keeps its record but is neither a copy nor a push target', () => {
    const p = plan({
      holders: { h1: confirmed('b', 'a') },
      peers: peers({ online: false, lastSeen: NOW - 2 * GRACE }),
    });
    assert.deepEqual(pushed(p), ['c']);
    assert.deepEqual(p.release, []);
    assert.deepEqual(p.atRisk, [{ hash: 'h1', copies: 1, desired: 2 }]);
  });
  it('the returning holder makes one copy extra: exactly one is released', () => {
    const p = plan({
      holders: { h1: confirmed('a', 'b', 'c') },
      peers: [peer('a', { score: 10 }), peer('b', { score: 20 }), peer('c', { score: 30 })],
    });
    assert.deepEqual(p.release, [{ hash: 'h1', peer: 'c' }]);
  });

  it('story over several rounds: outage, heal, return, release back to the factor', () => {
    // A tiny executor, as storage records it: an acknowledged push is confirmed at once; releases remove.
    let records: Record<string, Holder[]> = { h1: confirmed('a', 'b') };
    const run = (ps: PeerInfo[], now: number) => {
      const p = planPlacement({ factor: 2, now, offlineGraceMs: GRACE, objects: [{ hash: 'h1', size: 1 }], holders: records, peers: ps });
      const kept = (records.h1 ?? []).filter((h) => !p.release.some((r) => r.peer === h.peer));
      records = { h1: [...kept, ...confirmed(...p.push.map((x) => x.peer))] };
      return p;
    };
    const down = { online: false, lastSeen: NOW };
    // Round 1: a just went down: within grace, nothing moves.
    assert.deepEqual(run([peer('a', down), peer('b', { score: 20 }), peer('c', { score: 30 })], NOW + 60_000).push, []);
    // Round 2: past grace: c gets a replacement.
    assert.deepEqual(run([peer('a', down), peer('b', { score: 20 }), peer('c', { score: 30 })], NOW + GRACE + 1).push,
      [{ hash: 'h1', peer: 'c' }]);
    // Round 3: c holds it; no more pushes, and nothing released while a is still down.
    const r3 = run([peer('a', down), peer('b', { score: 20 }), peer('c', { score: 30 })], NOW + GRACE + 2);
    assert.deepEqual([r3.push, r3.release], [[], []]);
    // Round 4: a is back: three healthy confirmed copies; the slowest goes.
    const r4 = run([peer('a', { score: 10 }), peer('b', { score: 20 }), peer('c', { score: 30 })], NOW + GRACE + 3);
    assert.deepEqual(r4.release, [{ hash: 'h1', peer: 'c' }]);
    assert.deepEqual(records.h1?.map((h) => h.peer).sort(), ['a', 'b']);
  });
});

describe('push eligibility', () => {
  it('skips peers that are offline, refusing or without a route', () => {
    const p = plan({
      factor: 4,
      peers: [peer('off', { online: false }), peer('no', { refusing: true }), peer('noroute', { score: undefined }), peer('ok')],
    });
    assert.deepEqual(pushed(p), ['ok']);
  });
  it('skips a peer without room for the object; an exact fit is fine', () => {
    const p = plan({ peers: [peer('small', { freeBytes: 99, score: 1 }), peer('exact', { freeBytes: 100 }), peer('big', { score: 50 })] });
    assert.deepEqual(pushed(p), ['exact', 'big']);
  });
  it('accounts the bytes planned per peer within one plan', () => {
    const p = plan({
      factor: 1,
      objects: [{ hash: 'h1', size: 100 }, { hash: 'h2', size: 100 }, { hash: 'h3', size: 100 }],
      peers: [peer('a', { score: 1, freeBytes: 250 }), peer('b', { score: 2 })],
    });
    assert.deepEqual(p.push, [{ hash: 'h1', peer: 'a' }, { hash: 'h2', peer: 'a' }, { hash: 'h3', peer: 'b' }]);
  });
  it('scarce room goes to the object with fewest copies first', () => {
    const p = plan({
      objects: [{ hash: 'h1', size: 100 }, { hash: 'h2', size: 100 }],
      holders: { h1: confirmed('a') },
      peers: [peer('a'), peer('b', { freeBytes: 100 })],
    });
    assert.deepEqual(p.push, [{ hash: 'h2', peer: 'a' }, { hash: 'h2', peer: 'b' }], 'b\'s room went to h2, none left for h1');
  });
});

describe('factor larger than the peers available', () => {
  it('pushes to every available peer and reports the object at risk', () => {
    const p = plan({ factor: 5, peers: [peer('a'), peer('b'), peer('c', { refusing: true })] });
    assert.deepEqual(pushed(p), ['a', 'b']);
    assert.deepEqual(p.atRisk, [{ hash: 'h1', copies: 0, desired: 5 }]);
  });
  it('with no peers at all: nothing to do but report', () => {
    assert.deepEqual(plan({}), { push: [], release: [], atRisk: [{ hash: 'h1', copies: 0, desired: 2 }] });
  });
});

describe('output', () => {
  it('is ordered most at risk first, then by hash, best peer first', () => {
    const p = plan({
      objects: [{ hash: 'h3', size: 1 }, { hash: 'h1', size: 1 }, { hash: 'h2', size: 1 }],
      holders: { h1: confirmed('a'), h3: confirmed('a') },
      peers: [peer('a'), peer('b', { score: 2 }), peer('c', { score: 1 })],
    });
    assert.deepEqual(p.atRisk.map((r) => r.hash), ['h2', 'h1', 'h3']);
    assert.deepEqual(p.push, [
      { hash: 'h2', peer: 'c' }, { hash: 'h2', peer: 'b' }, { hash: 'h1', peer: 'c' }, { hash: 'h3', peer: 'c' },
    ]);
  });
  it('ignores records of objects it was not asked to place', () => {
    assert.deepEqual(plan({ objects: [], holders: { h9: confirmed('a', 'b', 'c') }, peers: [peer('a')] }),
      { push: [], release: [], atRisk: [] });
  });
});

describe('countCopies / countAtRisk', () => {
  const view = {
    now: NOW, offlineGraceMs: GRACE,
    peers: [peer('a'), peer('b'), peer('dead', { online: false, lastSeen: NOW - 2 * GRACE }), peer('blip', { online: false, lastSeen: NOW - 1 })],
    holders: {
      m: confirmed('a', 'b'),
      c0: confirmed('a', 'b', 'blip'),
      c1: [...confirmed('a', 'dead'), ...held('releasing', 'b')],
      c2: [...confirmed('a', 'a', 'b'), ...held('releasing', 'blip')],
    },
  };
  it('a file has the fewest healthy confirmed copies over its objects', () => {
    assert.equal(countCopies(['m', 'c0', 'c2'], view), 2);
    assert.equal(countCopies(['m', 'c0', 'c1', 'c2'], view), 1, 'releasing and dead holders do not count');
    assert.equal(countCopies(['c0'], view), 3, 'a holder within grace counts');
    assert.equal(countCopies(['unknown'], view), 0);
    assert.equal(countCopies([], view), 0);
  });
  it('counts objects below the factor', () => {
    assert.equal(countAtRisk(['m', 'c0', 'c1', 'c2', 'unknown'], view), 2);
    assert.equal(countAtRisk(['m', 'c0', 'c1', 'c2', 'c1'], view, 3), 3, 'a repeated hash counts once');
  });
  it('agrees with the plan', () => {
    const input = { ...view, factor: 2, objects: ['m', 'c0', 'c1', 'c2'].map((hash) => ({ hash, size: 1 })) };
    const p = planPlacement(input);
    assert.equal(p.atRisk.length, countAtRisk(input.objects.map((o) => o.hash), view));
    for (const r of p.atRisk) assert.equal(r.copies, countCopies([r.hash], view));
  });
});

// ---- properties -------------------------------------------------------------------------

const PEER_IDS = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'];
const HASHES = ['h0', 'h1', 'h2', 'h3', 'h4'];
const STATES: HolderState[] = ['confirmed', 'releasing'];

const arbPeer = (id: string, quota: boolean): fc.Arbitrary<PeerInfo> => fc.record({
  id: fc.constant(id),
  preferred: fc.boolean(),
  score: fc.option(fc.integer({ min: -20, max: 60 }), { nil: undefined }),
  online: fc.boolean(),
  lastSeen: fc.option(fc.integer({ min: NOW - 3 * GRACE, max: NOW }), { nil: undefined }),
  refusing: fc.boolean(),
  freeBytes: quota ? fc.option(fc.integer({ min: 0, max: 400 }), { nil: undefined }) : fc.constant(undefined),
});

const arbInput = (quota: boolean): fc.Arbitrary<PlacementInput> => fc.record({
  factor: fc.integer({ min: 1, max: 4 }),
  now: fc.constant(NOW),
  offlineGraceMs: fc.constant(GRACE),
  objects: fc.subarray(HASHES).chain((hs) =>
    fc.tuple(...hs.map((hash) => fc.record({ hash: fc.constant(hash), size: fc.integer({ min: 0, max: 200 }) })))),
  holders: fc.tuple(...HASHES.map((hash) =>
    fc.array(fc.record({ peer: fc.constantFrom(...PEER_IDS, 'stranger'), state: fc.constantFrom(...STATES) }), { maxLength: 7 })
      .map((hs) => [hash, hs] as const))).map((entries) => Object.fromEntries(entries)),
  peers: fc.subarray(PEER_IDS).chain((ids) => fc.tuple(...ids.map((id) => arbPeer(id, quota)))),
});

/** An independent model of the definitions, to check the plan against. */
function model(input: PlacementInput) {
  const byId = new Map(input.peers.map((p) => [p.id, p]));
  const live = (id: string) => {
    const p = byId.get(id);
    return !!p && (p.online || (p.lastSeen !== undefined && input.now - p.lastSeen <= input.offlineGraceMs));
  };
  const stateOf = (hash: string, id: string): HolderState | undefined => {
    const ss = (input.holders[hash] ?? []).filter((h) => h.peer === id).map((h) => h.state);
    return STATES.find((s) => ss.includes(s));
  };
  const ids = [...new Set([...PEER_IDS, 'stranger'])];
  const counted = (hash: string) => ids.filter((id) => live(id) && stateOf(hash, id) === 'confirmed');
  const recorded = (hash: string) => ids.filter((id) => stateOf(hash, id) === 'confirmed');
  const safe = (id: string, hash: string) => stateOf(hash, id) === 'confirmed' && byId.get(id)?.online === true;
  const eligible = (p: PeerInfo) => p.online && !p.refusing && p.score !== undefined;
  return { byId, live, stateOf, counted, recorded, safe, eligible };
}

const forHash = (xs: { hash: string; peer: string }[], hash: string) => xs.filter((x) => x.hash === hash).map((x) => x.peer);
const rankKey = (p: PeerInfo) => [p.preferred ? 0 : 1, p.score ?? Infinity, p.id] as const;
const ranksBefore = (a: PeerInfo, b: PeerInfo) => {
  const [x, y] = [rankKey(a), rankKey(b)];
  return x[0] !== y[0] ? x[0] < y[0] : x[1] !== y[1] ? x[1] < y[1] : x[2] < y[2];
};

describe('placement properties', () => {
  const factorOf = (i: PlacementInput) => i.factor ?? DEFAULT_REPLICATION_FACTOR;

  it('(a) counted + planned copies never exceed the factor (nor grow an over-placed object)', () => {
    fc.assert(fc.property(arbInput(true), (input) => {
      const p = planPlacement(input);
      const m = model(input);
      const factor = factorOf(input);
      for (const { hash } of input.objects) {
        const before = m.counted(hash);
        const push = forHash(p.push, hash);
        const rel = forHash(p.release, hash);
        assert.equal(new Set(push).size, push.length, 'no duplicate push');
        for (const id of push) assert.ok(!m.recorded(hash).includes(id), 'no push to a peer that has it');
        if (push.length > 0) assert.equal(rel.length, 0);
        const after = before.length + push.length - rel.length;
        assert.ok(after <= Math.max(factor, before.length), `${hash}: ${after} copies after, factor ${factor}`);
        if (before.length <= factor) assert.ok(before.length + push.length <= factor);
      }
    }), { numRuns: 500 });
  });

  it('(b) never below the factor while enough healthy eligible peers exist', () => {
    fc.assert(fc.property(arbInput(false), (input) => {
      const p = planPlacement(input);
      const m = model(input);
      const factor = factorOf(input);
      for (const { hash } of input.objects) {
        const before = m.counted(hash).length;
        const spare = input.peers.filter((q) => m.eligible(q) && !m.recorded(hash).includes(q.id)).length;
        const after = before + forHash(p.push, hash).length - forHash(p.release, hash).length;
        assert.ok(after >= Math.min(factor, before + spare), `${hash}: ${after} < min(${factor}, ${before}+${spare})`);
      }
    }), { numRuns: 500 });
  });

  it('(c) a release never leaves fewer than `factor` confirmed online copies (never the last one)', () => {
    fc.assert(fc.property(arbInput(true), (input) => {
      const p = planPlacement(input);
      const m = model(input);
      const factor = factorOf(input);
      for (const { hash } of input.objects) {
        const rel = forHash(p.release, hash);
        if (rel.length === 0) continue;
        for (const id of rel) assert.ok(m.counted(hash).includes(id), 'only counted holders are released');
        const safeLeft = m.counted(hash).filter((id) => !rel.includes(id) && m.safe(id, hash));
        assert.ok(safeLeft.length >= factor && safeLeft.length >= 1);
        assert.ok(m.counted(hash).length - rel.length >= factor, 'releases stop at the factor');
      }
    }), { numRuns: 500 });
  });

  it('(d) the plan is deterministic and independent of input order', () => {
    fc.assert(fc.property(arbInput(true), (input) => {
      const p = planPlacement(input);
      assert.deepEqual(planPlacement(structuredClone(input)), p);
      const reversed: PlacementInput = {
        ...input,
        objects: [...input.objects].reverse(),
        peers: [...input.peers].reverse(),
        holders: Object.fromEntries(Object.entries(input.holders).reverse().map(([h, hs]) => [h, [...hs].reverse()])),
      };
      assert.deepEqual(planPlacement(reversed), p);
    }), { numRuns: 300 });
  });

  it('(e) pushes go only to eligible peers and fit their quota', () => {
    fc.assert(fc.property(arbInput(true), (input) => {
      const p = planPlacement(input);
      const m = model(input);
      const bytes = new Map<string, number>();
      for (const { hash, peer: id } of p.push) {
        const q = m.byId.get(id);
        assert.ok(q && m.eligible(q), `${id} is eligible`);
        const size = input.objects.find((o) => o.hash === hash)?.size ?? 0;
        bytes.set(id, (bytes.get(id) ?? 0) + size);
      }
      for (const [id, used] of bytes) {
        const free = m.byId.get(id)?.freeBytes;
        if (free !== undefined) assert.ok(used <= free, `${id}: ${used} > ${free}`);
      }
    }), { numRuns: 500 });
  });

  it('(f) preferred first, then fastest: no skipped eligible peer outranks a chosen one', () => {
    fc.assert(fc.property(arbInput(false), (input) => {
      const p = planPlacement(input);
      const m = model(input);
      for (const { hash } of input.objects) {
        const chosen = forHash(p.push, hash).map((id) => m.byId.get(id) as PeerInfo);
        const skipped = input.peers.filter((q) => m.eligible(q) && !m.recorded(hash).includes(q.id) && !chosen.includes(q));
        for (const c of chosen) for (const s of skipped) assert.ok(ranksBefore(c, s), `${c.id} chosen over ${s.id}`);
      }
    }), { numRuns: 500 });
  });

  it('(g) atRisk is exactly the objects with fewer healthy confirmed copies than the factor', () => {
    fc.assert(fc.property(arbInput(true), (input) => {
      const p = planPlacement(input);
      const m = model(input);
      const factor = factorOf(input);
      const want = input.objects
        .map(({ hash }) => ({ hash, copies: m.counted(hash).filter((id) => m.stateOf(hash, id) === 'confirmed').length }))
        .filter((r) => r.copies < factor);
      assert.deepEqual(
        [...p.atRisk].sort((a, b) => (a.hash < b.hash ? -1 : 1)),
        want.map((r) => ({ ...r, desired: factor })).sort((a, b) => (a.hash < b.hash ? -1 : 1)),
      );
    }), { numRuns: 300 });
  });

  /** The input's objects cut into pages at the given points, each page with its own holders. */
  const paged = (input: PlacementInput, cuts: number[], limit = Infinity) => {
    const b = new PlanBuilder(input, limit);
    const at = [...new Set(cuts.map((c) => c % (input.objects.length + 1)))].sort((x, y) => x - y);
    let from = 0;
    for (const to of [...at, input.objects.length]) {
      const page = input.objects.slice(from, to);
      b.add(page, Object.fromEntries(page.map((o) => [o.hash, input.holders[o.hash] ?? []])));
      from = Math.max(from, to);
    }
    return b.finish();
  };

  it('(h) a plan built page by page is the plan of all the objects at once', () => {
    fc.assert(fc.property(arbInput(true), fc.array(fc.nat(), { maxLength: 4 }), (input, cuts) => {
      const whole = planPlacement(input);
      const { atRiskCount, candidates: _, ...byPages } = paged(input, cuts);
      assert.deepEqual(byPages, whole);
      assert.equal(atRiskCount, whole.atRisk.length);
    }), { numRuns: 500 });
  });

  it('(i) with room for k objects, the plan is the first k objects of the whole plan, and still counts every object at risk', () => {
    fc.assert(fc.property(arbInput(true), fc.array(fc.nat(), { maxLength: 4 }), fc.integer({ min: 1, max: 4 }), (input, cuts, k) => {
      const whole = planPlacement(input);
      const p = paged(input, cuts, k);
      const isPrefix = <T>(a: T[], b: T[]) => assert.deepEqual(a, b.slice(0, a.length));
      isPrefix(p.push, whole.push);
      isPrefix(p.release, whole.release);
      isPrefix(p.atRisk, whole.atRisk);
      assert.equal(p.atRiskCount, whole.atRisk.length);
      const acted = new Set([...p.push, ...p.release].map((x) => x.hash));
      assert.ok(acted.size <= k);
      // Nothing that fits is left out: only objects whose copies differ from the factor take room.
      const m = model(input);
      const candidates = input.objects.filter((o) => m.counted(o.hash).length !== factorOf(input)).length;
      if (candidates <= k) {
        assert.deepEqual(p.push, whole.push);
        assert.deepEqual(p.release, whole.release);
      }
    }), { numRuns: 500 });
  });
});

