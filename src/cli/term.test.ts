import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { termSafe, termText } from './term.js';

test('escape sequences, bidi overrides and line breaks in a field are shown, not obeyed', () => {
  assert.equal(termSafe('ev\x1b]0;pwned\x07il\x1b[2J'), 'ev\\x1b]0;pwned\\x07il\\x1b[2J');
  assert.equal(termSafe('a\nb\tc\r'), 'a\\x0ab\\x09c\\x0d');
  assert.equal(termSafe('cod\u202egnp.exe'), 'cod\\u{202e}gnp.exe');
  assert.equal(termSafe('\u009b31m'), '\\x9b31m');
  assert.equal(termSafe('héllo wörld 👋 名前'), 'héllo wörld 👋 名前');
});

test('a block keeps its lines and tabs but no other control', () => {
  assert.equal(termText('one\n\ttwo\x1b[31m'), 'one\n\ttwo\\x1b[31m');
});

test('no output of either contains a control character', () => {
  // eslint-disable-next-line no-control-regex
  const control = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/u;
  fc.assert(fc.property(fc.string({ unit: fc.oneof(fc.integer({ min: 0, max: 0xff }), fc.integer({ min: 0x2000, max: 0x2070 }), fc.integer({ min: 0xfef0, max: 0xffff })).map((n) => String.fromCharCode(n)), maxLength: 64 }), (s) => {
    assert.doesNotMatch(termSafe(s), control);
    assert.doesNotMatch(termSafe(s), /[\n\t]/);
    assert.doesNotMatch(termText(s), control);
  }), { numRuns: 200 });
});
