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
