import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { bestRoute, BENCH_INTERVAL_MS, isBenchDue, peerScore, routeScore, type RouteStats } from './route-score.js';

const route = (url: string, over: Partial<RouteStats> = {}): RouteStats => ({
  url, kind: 'direct', reachable: true, latency_ms: 10, ...over,
});

describe('routeScore (seed: effective_score = latency - throughput_MBps × 0.1)', () => {
  const cases: Array<[string, Partial<RouteStats>, number | undefined]> = [
    ['latency and throughput', { latency_ms: 20, throughput_MBps: 50 }, 15],
    ['high throughput outweighs a little latency', { latency_ms: 12, throughput_MBps: 100 }, 2],
    ['score may go negative', { latency_ms: 1, throughput_MBps: 200 }, -19],
    ['not benchmarked yet: latency alone', { latency_ms: 20, throughput_MBps: undefined }, 20],
    ['zero throughput: latency alone', { latency_ms: 20, throughput_MBps: 0 }, 20],
    ['garbage throughput ignored', { latency_ms: 20, throughput_MBps: Number.NaN }, 20],
    ['never probed: no score', { latency_ms: undefined, throughput_MBps: 50 }, undefined],
    ['negative latency is not a measurement', { latency_ms: -1 }, undefined],
  ];
  for (const [name, over, want] of cases) {
    it(name, () => assert.equal(routeScore(route('http://a', over)), want));
  }
});

describe('bestRoute', () => {
  const cases: Array<[string, RouteStats[], string | undefined]> = [
    ['no routes', [], undefined],
    ['lowest effective score wins', [
      route('http://slow', { latency_ms: 20, throughput_MBps: 10 }), // 19
      route('http://fast', { latency_ms: 20, throughput_MBps: 100 }), // 10
    ], 'http://fast'],
    ['throughput can beat lower latency', [
      route('http://lowlat', { latency_ms: 5 }), // 5
      route('http://fat', { latency_ms: 8, throughput_MBps: 50 }), // 3
    ], 'http://fat'],
    ['unmeasured throughput scores on latency alone', [
      route('http://new', { latency_ms: 4 }), // 4
      route('http://old', { latency_ms: 9, throughput_MBps: 40 }), // 5
    ], 'http://new'],
    ['unreachable routes are not candidates', [
      route('http://down', { latency_ms: 1, reachable: false }),
      route('http://up', { latency_ms: 50 }),
    ], 'http://up'],
    ['never-probed routes are not candidates', [
      route('http://unprobed', { latency_ms: undefined }),
      route('http://probed', { latency_ms: 50 }),
    ], 'http://probed'],
    ['all unreachable or unprobed', [
      route('http://a', { reachable: false }),
      route('http://b', { latency_ms: undefined }),
    ], undefined],
    ['tie: direct before mdns before relay', [
      route('http://r', { kind: 'relay' }),
      route('http://m', { kind: 'mdns' }),
      route('http://d', { kind: 'direct' }),
    ], 'http://d'],
    ['tie: mdns before relay', [
      route('http://a-relay', { kind: 'relay' }),
      route('http://z-mdns', { kind: 'mdns' }),
    ], 'http://z-mdns'],
    ['tie on score and kind: smallest url', [
      route('http://b'),
      route('http://a'),
    ], 'http://a'],
    ['equal scores from different measurements tie', [
      route('http://b', { latency_ms: 12, throughput_MBps: 20 }), // 10
      route('http://a', { latency_ms: 10 }), // 10
    ], 'http://a'],
  ];
  for (const [name, routes, want] of cases) {
    it(name, () => assert.equal(bestRoute(routes)?.url, want));
  }

  it('is independent of input order (property)', () => {
    const arbRoute = fc.record({
      url: fc.constantFrom('http://a', 'http://b', 'http://c', 'ws://relay/x'),
      kind: fc.constantFrom('direct' as const, 'mdns' as const, 'relay' as const),
      reachable: fc.boolean(),
      latency_ms: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
      throughput_MBps: fc.option(fc.integer({ min: 0, max: 500 }), { nil: undefined }),
    });
    fc.assert(fc.property(fc.array(arbRoute, { maxLength: 8 }), fc.func(fc.integer()), (routes, key) => {
      const shuffled = [...routes].sort((a, b) => key(a.url + a.kind) - key(b.url + b.kind));
      const a = bestRoute(routes);
      const b = bestRoute(shuffled);
      assert.equal(a === undefined, b === undefined);
      if (a && b) {
        assert.equal(routeScore(a), routeScore(b));
        assert.equal(a.kind, b.kind);
        assert.equal(a.url, b.url);
      }
    }));
  });

  it('never returns an unreachable or unprobed route, nor one beaten by a candidate (property)', () => {
    const arbRoute = fc.record({
      url: fc.webUrl(),
      kind: fc.constantFrom('direct' as const, 'mdns' as const, 'relay' as const),
      reachable: fc.boolean(),
      latency_ms: fc.option(fc.double({ min: 0, max: 1000, noNaN: true }), { nil: undefined }),
      throughput_MBps: fc.option(fc.double({ min: 0, max: 1000, noNaN: true }), { nil: undefined }),
    });
    fc.assert(fc.property(fc.array(arbRoute, { maxLength: 10 }), (routes) => {
      const best = bestRoute(routes);
      const candidates = routes.filter((r) => r.reachable && routeScore(r) !== undefined);
      if (!best) return assert.equal(candidates.length, 0);
      assert.ok(best.reachable);
      const s = routeScore(best);
      assert.ok(s !== undefined);
      // Direct routes come first: best beats every candidate of its own class (relay or not).
      if (best.kind === 'relay') assert.ok(candidates.every((c) => c.kind === 'relay'));
      for (const c of candidates) if ((c.kind === 'relay') === (best.kind === 'relay')) assert.ok(s <= (routeScore(c) as number));
    }));
  });
});

describe('peerScore', () => {
  it('is the score of the best route', () => {
    assert.equal(peerScore([route('http://a', { latency_ms: 30, throughput_MBps: 100 }), route('http://b', { latency_ms: 25 })]), 20);
  });
  it('is undefined without a usable route', () => {
    assert.equal(peerScore([route('http://a', { reachable: false })]), undefined);
  });
});

describe('isBenchDue (seed: every 6 h, and on first contact)', () => {
  const H = 60 * 60 * 1000;
  const now = 1_700_000_000_000;
  const cases: Array<[string, number | undefined, number, boolean]> = [
    ['never benchmarked (first contact)', undefined, BENCH_INTERVAL_MS, true],
    ['just benchmarked', now, BENCH_INTERVAL_MS, false],
    ['5 h 59 min ago', now - 6 * H + 60_000, BENCH_INTERVAL_MS, false],
    ['exactly 6 h ago', now - 6 * H, BENCH_INTERVAL_MS, true],
    ['a day ago', now - 24 * H, BENCH_INTERVAL_MS, true],
    ['record in the future (clock stepped back)', now + H, BENCH_INTERVAL_MS, true],
    ['custom interval not yet passed', now - 30_000, 60_000, false],
    ['custom interval passed', now - 60_000, 60_000, true],
  ];
  for (const [name, last, interval, want] of cases) {
    it(name, () => assert.equal(isBenchDue(last, now, interval), want));
  }
  it('defaults to 6 h', () => {
    assert.equal(BENCH_INTERVAL_MS, 6 * H);
    assert.equal(isBenchDue(now - 6 * H + 1, now), false);
    assert.equal(isBenchDue(now - 6 * H, now), true);
  });
});

describe('relay routes are the fallback', () => {
  const r = (url: string, kind: RouteStats['kind'], over: Partial<RouteStats>): RouteStats => ({ url, kind, reachable: true, ...over });
  it('a reachable direct route wins over a faster relay route', () => {
    const best = bestRoute([r('relay+ws://r:1/x', 'relay', { latency_ms: 1, throughput_MBps: 500 }), r('https://d:1', 'direct', { latency_ms: 80, throughput_MBps: 1 })]);
    assert.equal(best?.url, 'https://d:1');
  });
  it('the relay is chosen when no direct route answers, and scored among relays', () => {
    const routes = [
      r('https://d:1', 'direct', { reachable: false, latency_ms: 1 }),
      r('relay+ws://slow:1/x', 'relay', { latency_ms: 40 }),
      r('relay+ws://fast:1/x', 'relay', { latency_ms: 20, throughput_MBps: 50 }),
    ];
    assert.equal(bestRoute(routes)?.url, 'relay+ws://fast:1/x');
  });
});
