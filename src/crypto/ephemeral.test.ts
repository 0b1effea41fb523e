import { test } from 'node:test';
import assert from 'node:assert/strict';
import { senderAgreement, recipientAgreement } from './ephemeral.js';
import { generateEd25519, generateX25519 } from './keys.js';
import { GRANT_INFO, CHAT_INFO } from './domains.js';
import { GroveError } from '../errors.js';

const bob = generateX25519();

test('sender and recipient derive the same 32-byte key', () => {
  const { ephPublicRaw, key } = senderAgreement(bob.publicRaw, GRANT_INFO);
  assert.equal(key.length, 32);
  assert.equal(ephPublicRaw.length, 32);
  assert.deepEqual(recipientAgreement(ephPublicRaw, bob.privateKey, bob.publicRaw, GRANT_INFO), key);
});

test('a fresh ephemeral key per call gives a fresh key', () => {
  const a = senderAgreement(bob.publicRaw, CHAT_INFO);
  const b = senderAgreement(bob.publicRaw, CHAT_INFO);
  assert.notDeepEqual(a.ephPublicRaw, b.ephPublicRaw);
  assert.notDeepEqual(a.key, b.key);
});

test('the domain string separates grant keys from chat keys', () => {
  const eph = generateX25519();
  const g = senderAgreement(bob.publicRaw, GRANT_INFO, eph.privateKey);
  const c = senderAgreement(bob.publicRaw, CHAT_INFO, eph.privateKey);
  assert.deepEqual(g.ephPublicRaw, eph.publicRaw);
  assert.notDeepEqual(g.key, c.key);
  assert.notDeepEqual(recipientAgreement(eph.publicRaw, bob.privateKey, bob.publicRaw, CHAT_INFO), g.key);
});

test('another recipient key derives another key', () => {
  const carol = generateX25519();
  const { ephPublicRaw, key } = senderAgreement(bob.publicRaw, GRANT_INFO);
  assert.notDeepEqual(recipientAgreement(ephPublicRaw, carol.privateKey, carol.publicRaw, GRANT_INFO), key);
});

test('low-order keys: BAD_INPUT for the sender, CORRUPT for the recipient', () => {
  const zero = Buffer.alloc(32);
  assert.throws(() => senderAgreement(zero, GRANT_INFO), (e) => e instanceof GroveError && e.code === 'BAD_INPUT');
  assert.throws(() => recipientAgreement(zero, bob.privateKey, bob.publicRaw, GRANT_INFO),
    (e) => e instanceof GroveError && e.code === 'CORRUPT');
});

test('wrong key types are programmer errors', () => {
  assert.throws(() => senderAgreement(bob.publicRaw, GRANT_INFO, generateEd25519().privateKey), TypeError);
  assert.throws(() => senderAgreement(bob.publicRaw, GRANT_INFO, bob.publicKey), TypeError);
  assert.throws(() => recipientAgreement(bob.publicRaw, generateX25519().privateKey, bob.publicRaw, GRANT_INFO), RangeError);
});
