import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chatLocalKey, sealLocal, openLocal, type RowRef } from './local.js';
import { GroveError } from '../errors.js';

const isCorrupt = (e: unknown) => e instanceof GroveError && e.code === 'CORRUPT';

test('a sealed chat body opens only with the same key and row', () => {
  const master = randomBytes(32);
  const key = chatLocalKey(master);
  const ref: RowRef = { peer: 'a'.repeat(52), direction: 'in', id: 'f'.repeat(32) };
  const body = sealLocal(key, ref, 'hello ✓');
  assert.equal(openLocal(key, ref, body), 'hello ✓');
  assert.equal(body.includes(Buffer.from('hello')), false);
  assert.notDeepEqual(sealLocal(key, ref, 'hello ✓'), body, 'fresh nonce per seal');
  assert.throws(() => openLocal(chatLocalKey(randomBytes(32)), ref, body), isCorrupt);
  assert.throws(() => openLocal(key, { ...ref, direction: 'out' }, body), isCorrupt);
  assert.throws(() => openLocal(key, { ...ref, peer: 'b'.repeat(52) }, body), isCorrupt);
  assert.throws(() => openLocal(key, { ...ref, id: 'e'.repeat(32) }, body), isCorrupt);
  const flipped = Buffer.from(body);
  flipped[20]! ^= 1;
  assert.throws(() => openLocal(key, ref, flipped), isCorrupt);
  assert.throws(() => openLocal(key, ref, body.subarray(0, 20)), isCorrupt);
});

test('the local chat key is derived from the master key and differs from it', () => {
  const master = randomBytes(32);
  assert.deepEqual(chatLocalKey(master), chatLocalKey(Buffer.from(master)));
  assert.notDeepEqual(chatLocalKey(master), master);
  assert.equal(chatLocalKey(master).length, 32);
});
