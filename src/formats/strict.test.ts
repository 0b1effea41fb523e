import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { expectExactKeys, parseBase64, parseCellId, parseHash, parseUint, base64Length } from './strict.js';
import { generateEd25519, cellIdFromPublic } from '../crypto/keys.js';
import { GroveError } from '../errors.js';

const badInput = (e: unknown) => e instanceof GroveError && e.code === 'BAD_INPUT';

test('parseBase64 accepts only canonical padded base64 within the byte bounds', () => {
  for (const n of [1, 2, 3, 32, 64]) {
    const b = randomBytes(n);
    assert.deepEqual(parseBase64(b.toString('base64'), 'f', n, n), b);
    assert.equal(b.toString('base64').length, base64Length(n));
  }
  const refused = [
    'QQ', // missing padding
    'QR==', // non-zero padding bits (decodes like "QQ==")
    'QQ=', 'Q===', '=QQ=', 'QQ==QQ==', // misplaced or extra '='
    ' QQ=', 'QQ==\n', // whitespace
    '-_8=', // base64url alphabet
    'QUJD'.repeat(100), // longer than the bound
    '', // shorter than the bound
  ];
  for (const s of refused) assert.throws(() => parseBase64(s, 'f', 1, 3), badInput, JSON.stringify(s));
  assert.throws(() => parseBase64(42, 'f', 1, 3), badInput);
  assert.throws(() => parseBase64('AAAA', 'f', 4, 4), badInput, 'decodes to 3 bytes, below min');
});

test('parseCellId returns the key and refuses non-canonical encodings', () => {
  const kp = generateEd25519();
  const id = cellIdFromPublic(kp.publicRaw);
  assert.deepEqual(parseCellId(id, 'f'), kp.publicRaw);
  // The last character carries 1 data bit and 4 padding bits; set a padding bit.
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const last = alphabet.indexOf(id.at(-1) ?? '');
  const twin = id.slice(0, -1) + alphabet[last | 1];
  assert.notEqual(twin, id);
  for (const s of [twin, id.toUpperCase(), id.slice(1), `${id}a`, '', null]) {
    assert.throws(() => parseCellId(s, 'f'), badInput, String(s));
  }
});

test('parseHash, parseUint, expectExactKeys', () => {
  const h = randomBytes(32);
  assert.deepEqual(parseHash(h.toString('hex'), 'f'), h);
  assert.throws(() => parseHash(h.toString('hex').toUpperCase(), 'f'), badInput);
  assert.equal(parseUint(0, 'f'), 0);
  assert.equal(parseUint(Number.MAX_SAFE_INTEGER, 'f'), Number.MAX_SAFE_INTEGER);
  for (const v of [-1, 0.5, NaN, Infinity, 2 ** 53, '1', null]) assert.throws(() => parseUint(v, 'f'), badInput, String(v));
  assert.doesNotThrow(() => expectExactKeys({ a: 1, b: 2 }, ['b', 'a'], 'o'));
  for (const v of [{ a: 1 }, { a: 1, b: 2, c: 3 }, { a: 1, c: 2 }, [1, 2], null, 'ab', Object.create({ a: 1, b: 2 })]) {
    assert.throws(() => expectExactKeys(v, ['a', 'b'], 'o'), badInput);
  }
});
