import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCells, pairCells } from '../helpers/cells.js';
import { undelivered } from '../../src/chat/messages.js';

// A chat message queued while the clocks differed is retried once they agree, not failed for good.

test('a message queued while our clock ran ahead is delivered once the clocks agree', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  a!.clock.advance(10 * 60_000); // a's clock runs 10 minutes ahead
  const sent = await a!.cell.chat.send(b!.id, 'sent with a fast clock');
  assert.equal(sent.delivered, false, 'refused while the clocks differ');
  a!.clock.advance(-10 * 60_000); // NTP fixed it: the message's sent_at is now in b's future
  const r1 = await a!.cell.chat.deliver(b!.id);
  assert.equal(r1.delivered, 0);
  assert.equal(undelivered(a!.cell.home.db, b!.id).length, 1, 'still queued, not failed for good');
  // Time passes on both: the message is no longer from the future.
  a!.clock.advance(6 * 60_000);
  b!.clock.advance(6 * 60_000);
  const r2 = await a!.cell.chat.deliver(b!.id);
  assert.equal(r2.delivered, 1);
  assert.equal(undelivered(a!.cell.home.db, b!.id).length, 0);
});
