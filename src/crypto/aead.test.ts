import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { open, openInto, seal, sealInto } from './aead.js';
import { isGroveError } from '../errors.js';

// RFC 8439 §2.8.2: the AEAD_CHACHA20_POLY1305 example. Every constant below is typed in from
// the RFC; none is computed here.
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const KEY = hex(`
  80 81 82 83 84 85 86 87 88 89 8a 8b 8c 8d 8e 8f
  90 91 92 93 94 95 96 97 98 99 9a 9b 9c 9d 9e 9f`);
const NONCE = hex('07 00 00 00 40 41 42 43 44 45 46 47');
const AAD = hex('50 51 52 53 c0 c1 c2 c3 c4 c5 c6 c7');
const PLAINTEXT = Buffer.from(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  'utf8',
);
const CIPHERTEXT = hex(`
  d3 1a 8d 34 64 8e 60 db 7b 86 af bc 53 ef 7e c2
  a4 ad ed 51 29 6e 08 fe a9 e2 b5 a7 36 ee 62 d6
  3d be a4 5e 8c a9 67 12 82 fa fb 69 da 92 72 8b
  1a 71 de 0a 9e 06 0b 29 05 d6 a5 b6 7e cd 3b 36
  92 dd bd 7f 2d 77 8b 8c 98 03 ae e3 28 09 1b 58
  fa b3 24 e4 fa d6 75 94 55 85 80 8b 48 31 d7 bc
  3f f4 de f0 8e 4b 7a 9d e5 76 d2 65 86 ce c6 4b
  61 16`);
const TAG = hex('1a e1 0b 59 4f 09 e2 6a 7e 90 2e cb d0 60 06 91');
const SEALED = Buffer.concat([CIPHERTEXT, TAG]);

const flipBit = (b: Uint8Array, i: number, bit = 0) => {
  const c = Buffer.from(b);
  c[i] = (c[i] as number) ^ (1 << bit);
  return c;
};
const throwsCorrupt = (fn: () => unknown) =>
  assert.throws(fn, (e: unknown) => isGroveError(e) && e.code === 'CORRUPT');

describe('ChaCha20-Poly1305 (RFC 8439 §2.8.2 vector)', () => {
  it('the vector has the sizes the RFC gives', () => {
    assert.equal(KEY.length, 32);
    assert.equal(PLAINTEXT.length, 114);
    assert.equal(CIPHERTEXT.length, 114);
    assert.equal(TAG.length, 16);
  });

  it('seal gives the RFC ciphertext followed by the RFC tag', () => {
    assert.equal(seal(KEY, NONCE, AAD, PLAINTEXT).toString('hex'), SEALED.toString('hex'));
  });

  it('sealInto gives the same bytes whatever the piece size fed to OpenSSL', () => {
    for (const piece of [1, 7, 64, 114, 64 * 1024]) {
      const out = Buffer.alloc(SEALED.length + 5, 0xee);
      assert.equal(sealInto(out, KEY, NONCE, AAD, PLAINTEXT, piece), SEALED.length);
      assert.equal(out.subarray(0, SEALED.length).toString('hex'), SEALED.toString('hex'), `piece ${piece}`);
      assert.ok(out.subarray(SEALED.length).every((b) => b === 0xee), 'nothing written past the sealed bytes');
    }
  });

  it('open of the vector gives the plaintext', () => {
    assert.equal(open(KEY, NONCE, AAD, SEALED).toString('utf8'), PLAINTEXT.toString('utf8'));
    for (const piece of [1, 13, 64 * 1024]) {
      const out = Buffer.alloc(CIPHERTEXT.length);
      assert.equal(openInto(out, KEY, NONCE, AAD, SEALED, piece), PLAINTEXT.length);
      assert.deepEqual(out, PLAINTEXT, `piece ${piece}`);
    }
  });

  it('a flipped bit anywhere in the ciphertext fails authentication', () => {
    for (const i of [0, 1, 57, CIPHERTEXT.length - 1]) {
      for (const bit of [0, 7]) throwsCorrupt(() => open(KEY, NONCE, AAD, flipBit(SEALED, i, bit)));
    }
  });

  it('a flipped bit in the tag fails authentication', () => {
    for (let i = CIPHERTEXT.length; i < SEALED.length; i++) throwsCorrupt(() => open(KEY, NONCE, AAD, flipBit(SEALED, i, i % 8)));
  });

  it('a flipped bit in the AAD, or a missing AAD, fails authentication', () => {
    for (let i = 0; i < AAD.length; i++) throwsCorrupt(() => open(KEY, NONCE, flipBit(AAD, i, 3), SEALED));
    throwsCorrupt(() => open(KEY, NONCE, new Uint8Array(0), SEALED));
  });

  it('a wrong key or nonce, or a truncated input, fails with the same error', () => {
    throwsCorrupt(() => open(flipBit(KEY, 31), NONCE, AAD, SEALED));
    throwsCorrupt(() => open(KEY, flipBit(NONCE, 0), AAD, SEALED));
    throwsCorrupt(() => open(KEY, NONCE, AAD, SEALED.subarray(0, SEALED.length - 1)));
    throwsCorrupt(() => open(KEY, NONCE, AAD, TAG.subarray(0, 15)));
  });
});
