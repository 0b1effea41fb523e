import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateEd25519, generateX25519, cellIdFromPublic } from '../crypto/keys.js';
import type { CellKeys } from '../home/keys.js';
import { makeCard, verifyCard } from './identity.js';
import { GroveError } from '../errors.js';

function keys(): CellKeys {
  const identity = generateEd25519();
  return { identity, x25519: generateX25519(), master: randomBytes(32), peerSecret: randomBytes(32), cellId: cellIdFromPublic(identity.publicRaw) };
}

const code = (c: string) => (e: unknown) => e instanceof GroveError && e.code === c;

test('a card verifies, names its cell and binds its X25519 key', () => {
  const k = keys();
  const card = makeCard(k, { name: 'pi', build: 'grove/1', routes: ['http://10.0.0.2:7420'] });
  assert.equal(card.id, k.cellId);
  assert.equal(card.x25519, k.x25519.publicRaw.toString('hex'));
  assert.deepEqual(verifyCard(JSON.parse(JSON.stringify(card)), k.cellId), card);
  assert.deepEqual(makeCard(k, { name: 'pi', build: 'b' }).routes, undefined);
});

test('altered, re-signed or misattributed cards are refused', () => {
  const k = keys();
  const other = keys();
  const card = makeCard(k, { name: 'pi', build: 'grove/1' });
  assert.throws(() => verifyCard({ ...card, x25519: other.x25519.publicRaw.toString('hex') }), code('UNAUTHENTICATED'));
  assert.throws(() => verifyCard({ ...card, name: 'evil' }), code('UNAUTHENTICATED'));
  assert.throws(() => verifyCard({ ...makeCard(other, { name: 'pi', build: 'x' }), id: k.cellId }), code('UNAUTHENTICATED'));
  assert.throws(() => verifyCard(card, other.cellId), code('UNAUTHENTICATED'));
  for (const bad of [null, [], 'x', { ...card, extra: 1 }, { ...card, id: 'nope' }, { ...card, routes: ['ftp://x'] }, { ...card, signature: undefined }, { ...card, name: '' }]) {
    assert.throws(() => verifyCard(bad), code('BAD_INPUT'));
  }
});
