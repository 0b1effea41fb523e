import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startCells, type TestCell } from '../helpers/cells.js';
import { generateEd25519, generateX25519, cellIdFromPublic } from '../../src/crypto/keys.js';

// Cancellation (docs/design.md §5): stop() aborts every background operation and returns
// within its grace, even while one waits on a peer that never answers. The "peer" here is a
// tarpit: it accepts connections and says nothing. Timeouts are set far beyond the test's own
// limit, so only the abort can end these calls.

const NEVER = 10 * 60_000;

interface Tarpit {
  url: string;
  /** Resolves at the first connection. */
  connected: Promise<void>;
  close(): Promise<void>;
}

async function tarpit(): Promise<Tarpit> {
  const sockets = new Set<Socket>();
  let onConnect!: () => void;
  const connected = new Promise<void>((r) => { onConnect = r; });
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
    s.resume(); // read and drop whatever comes; never answer
    onConnect();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connected,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Pairs `a` with a silent peer whose only route is the tarpit; returns the peer's ID. */
function addSilentPeer(a: TestCell, url: string): string {
  const id = cellIdFromPublic(generateEd25519().publicRaw);
  a.cell.peers.upsert({ id, name: 'silent', x25519: generateX25519().publicRaw.toString('hex') }, [{ url, kind: 'direct' }]);
  return id;
}

test('stop() returns during a route benchmark that never answers', { timeout: 60_000 }, async (t) => {
  const pit = await tarpit();
  t.after(() => pit.close());
  const [a] = await startCells(t, 1, { timeouts: { probeMs: NEVER, benchMs: NEVER } });
  addSilentPeer(a!, pit.url);
  // A sync round starts with step 2: benchmark the routes that are due (this one never was).
  a!.cell.spawn('round', async (signal) => {
    await a!.cell.sync.service.runNow(signal);
  });
  await pit.connected;
  await a!.cell.stop();
  assert.equal(a!.cell.running, false);
});

test('stop() returns during a chat delivery that never gets an answer', { timeout: 60_000 }, async (t) => {
  const pit = await tarpit();
  t.after(() => pit.close());
  const [a] = await startCells(t, 1, { timeouts: { probeMs: NEVER, benchMs: NEVER } });
  const silent = addSilentPeer(a!, pit.url);
  a!.cell.spawn('chat', async (signal) => {
    await a!.cell.chat.send(silent, 'hello?', signal);
  });
  await pit.connected;
  await a!.cell.stop();
  assert.equal(a!.cell.running, false);
});
