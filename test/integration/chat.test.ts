import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { startCells, pairCells, restartCell, stopCell, waitFor, type TestCell } from '../helpers/cells.js';
import { syncRound } from './share-helpers.js';
import { sealMessage, type ChatEnvelope } from '../../src/formats/chat.js';
import { signObject } from '../../src/crypto/sign.js';
import { conversation } from '../../src/chat/messages.js';
import { chatLocalKey, openLocal } from '../../src/chat/local.js';
import { probePeer } from '../../src/peers/probe.js';
import { GroveError } from '../../src/errors.js';

// Encrypted chat between real cells on loopback (docs/design.md §2 "Chat").

const status = (code: number) => (e: unknown) => e instanceof GroveError && e.code === 'PEER_ERROR' && e.detail?.status === code;

const texts = (c: TestCell, peer: TestCell) => conversation(c.cell.home, peer.id).map((m) => m.text);

function rows(c: TestCell) {
  return c.cell.home.db.prepare('SELECT peer, direction, seq, id, delivered_at, failed, envelope IS NOT NULL AS queued FROM chat_messages ORDER BY peer, direction, seq').all();
}

/** A message from `from` to `to`, sealed by hand (the sender's store is not involved). */
function envelope(from: TestCell, to: TestCell, text: string, seq: number, over: { sentAt?: number; id?: string } = {}): ChatEnvelope {
  return sealMessage({
    identity: from.cell.home.keys.identity, fromId: from.id, toId: to.id,
    recipientX25519Raw: to.cell.home.keys.x25519.publicRaw, text, sentAt: over.sentAt ?? from.clock.now(), seq,
    ...(over.id ? { id: over.id } : {}),
  });
}

test('chat both ways: each side sees the conversation in order, decrypted', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const m1 = await a!.cell.chat.send('beta', 'hello beta');
  assert.equal(m1.delivered, true);
  b!.clock.advance(5);
  const m2 = await b!.cell.chat.send('alpha', 'hi alpha 👋');
  assert.equal(m2.delivered, true);
  a!.clock.advance(10);
  await a!.cell.chat.send(b!.id, 'how are you?');

  const onA = conversation(a!.cell.home, b!.id);
  assert.deepEqual(onA.map((m) => [m.from, m.to, m.text, m.delivered]), [
    [a!.id, b!.id, 'hello beta', true],
    [b!.id, a!.id, 'hi alpha 👋', true],
    [a!.id, b!.id, 'how are you?', true],
  ]);
  assert.deepEqual(texts(b!, a!), ['hello beta', 'hi alpha 👋', 'how are you?']);
  assert.deepEqual(conversation(b!.cell.home, a!.id).map((m) => m.seq), [1, 1, 2]);
});

test('messages to an offline peer queue and are delivered in order, exactly once, at the next sync round', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  await stopCell(b!);
  for (const text of ['one', 'two', 'three']) {
    const m = await a!.cell.chat.send('beta', text);
    assert.equal(m.delivered, false);
  }
  assert.equal(a!.cell.chat.hasPending(b!.id), true);
  await restartCell(b!);
  const round = await syncRound(a!);
  assert.deepEqual(round.errors, []);
  assert.deepEqual(texts(b!, a!), ['one', 'two', 'three']);
  assert.equal(a!.cell.chat.hasPending(b!.id), false);
  assert.ok(conversation(a!.cell.home, b!.id).every((m) => m.delivered));
  // Sent envelopes are not kept once delivered.
  assert.ok((rows(a!) as { queued: number }[]).every((r) => r.queued === 0));
  // Another round, or another delivery, changes nothing.
  const before = rows(b!);
  await syncRound(a!);
  await a!.cell.chat.deliver(b!.id);
  assert.deepEqual(rows(b!), before);
});

test('a queued message goes out as soon as the daemon sees the peer again', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  await stopCell(b!);
  await a!.cell.chat.send('beta', 'ping');
  await restartCell(b!);
  await probePeer(a!.cell, b!.id);
  await waitFor(() => texts(b!, a!).length === 1, 'the queued message to arrive');
  await waitFor(() => !a!.cell.chat.hasPending(b!.id), 'A to record the delivery');
  assert.deepEqual(texts(b!, a!), ['ping']);
});

test('a message arriving from a peer flushes what is queued for it', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  await stopCell(b!);
  await a!.cell.chat.send('beta', 'are you there?');
  await restartCell(b!);
  await b!.cell.chat.send('alpha', 'back online');
  await waitFor(() => texts(b!, a!).includes('are you there?'), 'A\'s queued message after B wrote');
});

test('a replayed message is a no-op; another message in the same seq slot is refused', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const env = envelope(a!, b!, 'once', 7);
  const first = await a!.cell.call(b!.id, 'POST', '/api/chat', { json: env });
  assert.deepEqual(first.data, { accepted: true });
  const before = rows(b!);
  const again = await a!.cell.call(b!.id, 'POST', '/api/chat', { json: env });
  assert.deepEqual(again.data, { accepted: false, duplicate: true });
  await assert.rejects(a!.cell.call(b!.id, 'POST', '/api/chat', { json: envelope(a!, b!, 'twice', 7) }), status(409));
  assert.deepEqual(rows(b!), before);
  assert.deepEqual(texts(b!, a!), ['once']);
});

test('a tampered, misaddressed, forwarded or implausible message is refused and stored nowhere', async (t) => {
  const [a, b, c] = await startCells(t, 3);
  await pairCells(a!, b!);
  await pairCells(c!, b!);
  await pairCells(a!, c!);
  const good = envelope(a!, b!, 'the real message', 1);
  const flipB64 = (v: string) => {
    const raw = Buffer.from(v, 'base64');
    raw[0]! ^= 1;
    return raw.toString('base64');
  };
  const { signature: _s, ...body } = good;
  const cases: [string, unknown, number][] = [
    ['altered id', { ...good, id: (good.id[0] === 'a' ? 'b' : 'a') + good.id.slice(1) }, 401],
    ['altered to', { ...good, to: c!.id }, 403],
    ['altered sent_at', { ...good, sent_at: good.sent_at + 1 }, 401],
    ['altered seq', { ...good, seq: 2 }, 401],
    ['altered eph', { ...good, eph: flipB64(good.eph) }, 401],
    ['altered nonce', { ...good, nonce: flipB64(good.nonce) }, 401],
    ['altered ciphertext', { ...good, ciphertext: flipB64(good.ciphertext) }, 401],
    ['altered signature', { ...good, signature: flipB64(good.signature) }, 401],
    ['re-signed by the sender over another ciphertext', signObject(a!.cell.home.keys.identity.privateKey, { ...body, ciphertext: envelope(a!, b!, 'other', 1).ciphertext }), 401],
    ['signed by another cell', signObject(c!.cell.home.keys.identity.privateKey, body), 401],
    ['from another cell', envelope(c!, b!, 'from C', 1), 403],
    ['addressed to another cell', envelope(a!, c!, 'for C', 1), 403],
    ['sent in the future', envelope(a!, b!, 'later', 1, { sentAt: a!.clock.now() + 3600_000 }), 400],
    ['sent over a year ago', envelope(a!, b!, 'old', 1, { sentAt: a!.clock.now() - 400 * 24 * 3600_000 }), 400],
    ['an extra field', { ...good, extra: 1 }, 400],
    ['a missing field', body, 400],
  ];
  for (const [what, env, code] of cases) {
    await assert.rejects(a!.cell.call(b!.id, 'POST', '/api/chat', { json: env }), status(code), what);
  }
  // C forwards A's genuine message: the caller is not its sender.
  await assert.rejects(c!.cell.call(b!.id, 'POST', '/api/chat', { json: good }), status(403));
  assert.deepEqual(rows(b!), []);
  const ok = await a!.cell.call(b!.id, 'POST', '/api/chat', { json: good });
  assert.deepEqual(ok.data, { accepted: true });
});

test('chat text is never stored in clear: placement.db holds it sealed under the master key', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const secret = 'meet at the old oak at 7 (zqx-marker)';
  await a!.cell.chat.send('beta', secret);
  await b!.cell.chat.send('alpha', `re: ${secret}`);
  // The database and its WAL, as they are on disk.
  for (const c of [a!, b!]) {
    const files = readdirSync(c.root).filter((f) => f.startsWith('placement.db'));
    for (const f of files) assert.equal(readFileSync(join(c.root, f)).includes('zqx-marker'), false, `${c.name}/${f} has no plaintext`);
  }
  // The body is bound to its row: moved to another row, it does not open.
  const row = b!.cell.home.db.prepare(`SELECT id, body FROM chat_messages WHERE direction = 'in'`).get() as { id: string; body: Buffer };
  const key = chatLocalKey(b!.cell.home.keys.master);
  assert.equal(openLocal(key, { peer: a!.id, direction: 'in', id: row.id }, row.body), secret);
  assert.throws(() => openLocal(key, { peer: a!.id, direction: 'out', id: row.id }, row.body), (e: unknown) => e instanceof GroveError && e.code === 'CORRUPT');
});
