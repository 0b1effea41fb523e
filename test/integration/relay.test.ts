import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { startCells, waitFor, type TestCell } from '../helpers/cells.js';
import { scratch, syncRound } from './share-helpers.js';
import { RelayServer } from '../../src/relay/server.js';
import { createInvite, pairWithCode } from '../../src/peers/pairing.js';
import { probePeer, peerView } from '../../src/peers/probe.js';
import { findHeldGrant } from '../../src/share/received.js';
import { restoreShared } from '../../src/share/get.js';
import { conversation } from '../../src/chat/messages.js';
import { tempDir } from '../helpers/ingest.js';

// A cell reachable only through a relay (its only direct route leads nowhere): pairing,
// sharing, chat and replication all go through a real relay, TLS end to end inside it, and
// the relay's sockets never carry a file name, chat text or protocol header in the clear.

async function relayWithTap(t: import('node:test').TestContext) {
  const relay = new RelayServer({ host: '127.0.0.1', port: 0 });
  const seen: Buffer[] = [];
  relay.http.on('connection', (s: Socket) => s.on('data', (d: Buffer) => seen.push(Buffer.from(d))));
  const url = await relay.start();
  t.after(() => relay.stop());
  return { relay, url, seen };
}

async function behindRelay(t: import('node:test').TestContext, relayUrl: string): Promise<[TestCell, TestCell]> {
  // beta advertises an unreachable direct route and its relay route only.
  const [a, b] = await startCells(t, 2, { config: (i) => (i === 1 ? { api: { host: '127.0.0.1', port: 0, advertise: ['https://127.0.0.1:1'] }, relay: { urls: [relayUrl], token: '' } } : {}) });
  return [a!, b!];
}

test('a cell reachable only through a relay is paired, shared with, chatted with and replicated to', async (t) => {
  const { relay, url, seen } = await relayWithTap(t);
  const [a, b] = await behindRelay(t, url);
  await waitFor(() => relay.stats().cells === 1, 'beta listening on the relay');
  assert.deepEqual(b.cell.routes(), ['https://127.0.0.1:1', `relay+ws://${url.slice(5)}/${b.id}`]);

  // The inviter is reachable only through the relay.
  const { code } = createInvite(b.cell);
  const peer = await pairWithCode(a.cell, code);
  assert.equal(peer.id, b.id);
  assert.deepEqual(a.cell.peers.get(b.id)!.routes.map((r) => r.kind).sort(), ['direct', 'relay']);
  const h = await probePeer(a.cell, b.id);
  assert.equal(h.online, true);
  const view = peerView(a.cell, a.cell.peers.get(b.id)!);
  assert.equal(view.best_route, `relay+ws://${url.slice(5)}/${b.id}`);
  assert.equal(view.routes.find((r) => r.url === view.best_route)!.kind, 'relay');

  // Sharing: the grant and the file's objects go to beta through the relay.
  const s = await scratch(t);
  const bytes = randomBytes(5 * 1024 * 1024 + 17);
  await s.add(a, 'quarterly-secret-report.pdf', bytes);
  const r = await a.cell.sharing.share('quarterly-secret-report.pdf', ['beta']);
  assert.equal(r.grants[0]!.delivered, true);
  const held = findHeldGrant(b.cell.home.db, 'quarterly-secret-report.pdf');
  assert.ok(held);
  const out = join(await tempDir(t), 'copy.pdf');
  await restoreShared(b.cell, held, out);
  assert.ok((await readFile(out)).equals(bytes));

  // Chat both ways (beta calls alpha directly; alpha calls beta through the relay).
  assert.equal((await a.cell.chat.send('beta', 'the eagle lands at noon')).delivered, true);
  assert.equal((await b.cell.chat.send('alpha', 'copy that, over')).delivered, true);
  assert.deepEqual(conversation(b.cell.home, a.id).map((m) => m.text), ['the eagle lands at noon', 'copy that, over']);

  // Replication: a sync round of alpha places its objects on beta through the relay.
  const summary = await syncRound(a);
  assert.ok(summary, 'round ran');

  const wire = Buffer.concat(seen);
  assert.ok(wire.length > bytes.length, 'the file crossed the relay');
  for (const needle of ['quarterly-secret-report', 'the eagle lands', 'copy that', 'receive-grant', 'x-grove-', 'application/pdf']) {
    assert.equal(wire.includes(Buffer.from(needle)), false, `${needle} seen in the clear on the relay`);
  }
});

test('the relay restarts: the cell reconnects by itself and calls go through again', async (t) => {
  const { relay, url } = await relayWithTap(t);
  const [a, b] = await startCells(t, 2, { config: (i) => (i === 1 ? { api: { host: '127.0.0.1', port: 0, advertise: ['https://127.0.0.1:1'] }, relay: { urls: [url], token: '' } } : {}) });
  await waitFor(() => relay.stats().cells === 1, 'beta listening');
  await pairWithCode(a!.cell, createInvite(b!.cell).code);
  await relay.stop();
  await assert.rejects(a!.cell.call(b!.id, 'GET', '/api/health'));
  const port = Number(new URL(url).port);
  const again = new RelayServer({ host: '127.0.0.1', port });
  await again.start();
  t.after(() => again.stop());
  await waitFor(() => again.stats().cells === 1, 'beta back on the relay', 20_000);
  const res = await a!.cell.call<{ id: string }>(b!.id, 'GET', '/api/health');
  assert.equal(res.data.id, b!.id);
});

test('route choice: the relay while no direct route answers, back to direct as soon as one does', async (t) => {
  const { relay, url } = await relayWithTap(t);
  const [a, b] = await behindRelay(t, url);
  await waitFor(() => relay.stats().cells === 1, 'beta listening on the relay');
  await pairWithCode(a.cell, createInvite(b.cell).code);
  const viewOf = () => peerView(a.cell, a.cell.peers.get(b.id)!);
  await probePeer(a.cell, b.id);
  assert.equal(viewOf().routes.find((r) => r.url === viewOf().best_route)!.kind, 'relay');
  // beta becomes reachable directly (say, a port forward was added): the next probe moves off the relay.
  a.cell.peers.addRoute(b.id, b.url);
  await probePeer(a.cell, b.id);
  assert.equal(viewOf().best_route, b.url);
  const res = await a.cell.call<{ id: string }>(b.id, 'GET', '/api/health');
  assert.equal(res.route, b.url);
});

test('a relay route to a cell that is not connected fails over to the next route with a clear error', async (t) => {
  const { url } = await relayWithTap(t);
  const [a, b] = await startCells(t, 2);
  await pairWithCode(a!.cell, createInvite(b!.cell).code);
  a!.cell.peers.addRoute(b!.id, `relay+ws://${url.slice(5)}/${b!.id}`);
  const h = await probePeer(a!.cell, b!.id);
  assert.equal(h.online, true, 'the direct route answers');
  const relayed = peerView(a!.cell, a!.cell.peers.get(b!.id)!).routes.find((r) => r.kind === 'relay')!;
  assert.match(relayed.error ?? '', /NOT_CONNECTED/);
});
