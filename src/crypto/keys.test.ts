import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateEd25519, cellIdFromPublic, publicFromCellId, rawPublic } from './keys.js';
import { isCellId } from './encoding.js';

test('cell IDs are 52 lowercase base32 chars and round-trip to the public key', () => {
  for (let i = 0; i < 20; i++) {
    const k = generateEd25519();
    const id = cellIdFromPublic(k.publicRaw);
    assert.ok(isCellId(id), id);
    assert.deepEqual(rawPublic(publicFromCellId(id)), k.publicRaw);
  }
});

test('RFC 4648 base32 vector for a fixed key', () => {
  assert.equal(cellIdFromPublic(Buffer.alloc(32, 7)), 'a4dqobyha4dqobyha4dqobyha4dqobyha4dqobyha4dqobyha4dq');
});

test('a cell ID\'s key is parsed once and kept; a malformed ID is refused every time', () => {
  const k = generateEd25519();
  const id = cellIdFromPublic(k.publicRaw);
  assert.equal(publicFromCellId(id), publicFromCellId(id));
  for (let i = 0; i < 300; i++) publicFromCellId(cellIdFromPublic(generateEd25519().publicRaw)); // past the cache's size
  assert.deepEqual(rawPublic(publicFromCellId(id)), k.publicRaw);
  for (let i = 0; i < 2; i++) assert.throws(() => publicFromCellId('not-an-id'), /not a cell ID/);
});
