import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeOrder } from './probe.js';
import type { RouteStats } from './route-score.js';

test('routes are tried best first, then reachable by score, then unprobed, then down', () => {
  const routes: RouteStats[] = [
    { url: 'http://down:1', kind: 'direct', reachable: false, latency_ms: 1 },
    { url: 'http://new:1', kind: 'direct', reachable: false },
    { url: 'http://slow:1', kind: 'direct', reachable: true, latency_ms: 50 },
    { url: 'http://fast:1', kind: 'direct', reachable: true, latency_ms: 20, throughput_MBps: 100 },
    { url: 'http://mid:1', kind: 'relay', reachable: true, latency_ms: 30 },
  ];
  assert.deepEqual(routeOrder(routes).map((r) => r.url), ['http://fast:1', 'http://slow:1', 'http://mid:1', 'http://new:1', 'http://down:1']);
  assert.deepEqual(routeOrder([]), []);
});
