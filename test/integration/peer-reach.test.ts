import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startCells, pairCells } from '../helpers/cells.js';
import { sha } from '../helpers/harden.js';
import { GroveError } from '../../src/errors.js';
import { createInvite, pairWithCode } from '../../src/peers/pairing.js';

// What a paired peer can reach, and what a caller is told when the clocks differ.

const refused = (status: number) => (e: unknown) => e instanceof GroveError && e.code === 'PEER_ERROR' && e.detail?.status === status;

test('a holder serves an object to its owner only, not to another paired peer', async (t) => {
  const [a, b, c] = await startCells(t, 3);
  await pairCells(b!, a!);
  await pairCells(b!, c!);
  const data = randomBytes(10_000);
  const hash = sha(data);
  assert.equal((await a!.cell.call(b!.id, 'PUT', `/api/objects/${hash}`, { body: data })).status, 200);
  const mine = await a!.cell.call<Buffer>(b!.id, 'GET', `/api/objects/${hash}`);
  assert.equal(sha(mine.data), hash);
  // Another paired cell that knows (or guesses) the hash gets the answer for a missing object.
  await assert.rejects(c!.cell.call(b!.id, 'GET', `/api/objects/${hash}`), refused(404));
  await assert.rejects(c!.cell.download(b!.id, `/api/objects/${hash}`, async () => 0), refused(404));
});

test('a clock that is off is reported as a clock difference, not as an unreachable cell', async (t) => {
  const [a, b] = await startCells(t, 2);
  b!.clock.advance(20 * 60_000);
  const { code } = createInvite(a!.cell);
  await assert.rejects(pairWithCode(b!.cell, code), (e: unknown) => {
    assert.ok(e instanceof GroveError, String(e));
    assert.match(e.message, /clock differs by 1200 s: the peer's clock is behind ours/);
    assert.doesNotMatch(e.message, /is it running|cannot reach/);
    return true;
  });
  b!.clock.advance(-20 * 60_000);
  await pairWithCode(b!.cell, createInvite(a!.cell).code);
  b!.clock.advance(-7 * 60_000);
  await assert.rejects(b!.cell.call(a!.id, 'GET', '/api/health'), (e: unknown) => e instanceof GroveError && /clock differs by 420 s: the peer's clock is ahead of ours/.test(e.message));
});
