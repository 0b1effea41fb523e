import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { startCells, pairCells } from '../helpers/cells.js';
import { MdnsDiscovery } from '../../src/discovery/mdns.js';
import { confirmByHealth } from '../../src/discovery/confirm.js';
import { announcementRecords } from '../../src/discovery/records.js';
import { probePeer } from '../../src/peers/probe.js';

// What a sighting may do, with real cells on loopback and the real identity check (the
// multicast socket itself is exercised in network namespaces by mdns.test.ts).

test('a sighting becomes an mdns route only once the signed protocol confirms it, and expires after 90 s unseen', async (t) => {
  const [a, b, g] = await startCells(t, 3);
  await pairCells(a!, b!);
  const cell = a!.cell;
  for (const r of cell.peers.get(b!.id)!.routes) cell.peers.removeRoute(b!.id, r.url);
  const probed: string[] = [];
  const d = new MdnsDiscovery({
    selfId: cell.id, port: () => cell.port, clock: cell.clock, log: pino({ level: 'silent' }), addLoop: () => {},
    peers: cell.peers, confirm: confirmByHealth(cell.client, 2_000),
    onRoute: (id) => { probed.push(id); void probePeer(cell, id).catch(() => {}); },
  }, { name: '', intervalMs: 30_000 });
  const seen = (id: string, port: number) => {
    const r = announcementRecords({ id, port, name: '', addresses: ['127.0.0.1'] });
    d.handleResponse([...r.answers, ...r.additionals], '127.0.0.1');
  };

  // A liar: beta's ID at gamma's port. gamma answers, but its answer is not signed by beta.
  seen(b!.id, g!.port);
  await d.idle();
  assert.deepEqual(cell.peers.get(b!.id)!.routes, [], 'an unconfirmed address is never a route');

  // The real beta: confirmed, added as kind mdns, probed.
  seen(b!.id, b!.port);
  await d.idle();
  assert.deepEqual(cell.peers.get(b!.id)!.routes.map((r) => [r.url, r.kind]), [[`https://127.0.0.1:${b!.port}`, 'mdns']]);
  assert.deepEqual(probed, [b!.id]);

  // gamma is not paired with alpha: nearby only, never a peer.
  seen(g!.id, g!.port);
  await d.idle();
  assert.deepEqual(d.nearby().map((n) => n.id), [g!.id]);
  assert.equal(cell.peers.get(g!.id), undefined);
  seen(cell.id, cell.port);
  assert.ok(!d.nearby().some((n) => n.id === cell.id), 'itself is ignored');

  // Unseen for more than 90 s: the mdns route goes; a direct route is never touched.
  cell.peers.addRoute(b!.id, 'http://10.255.255.1:1', 'direct');
  a!.clock.advance(60_000);
  await d.tick(new AbortController().signal);
  assert.equal(cell.peers.get(b!.id)!.routes.length, 2, 'still within 90 s');
  a!.clock.advance(31_000);
  await d.tick(new AbortController().signal);
  assert.deepEqual(cell.peers.get(b!.id)!.routes.map((r) => r.kind), ['direct']);
  assert.deepEqual(d.nearby(), [], 'gamma forgotten too');
});
