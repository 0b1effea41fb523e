import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  sealMessage, openMessage, parseEnvelope, chatAad, CHAT_FIELDS, MAX_CHAT_TEXT_BYTES,
  MAX_CHAT_ENVELOPE_JSON_BYTES, type ChatEnvelope, type SealMessageInput, type OpenMessageKeys,
} from './chat.js';
import { generateEd25519, generateX25519, cellIdFromPublic, type KeyPair } from '../crypto/keys.js';
import { senderAgreement } from '../crypto/ephemeral.js';
import { seal } from '../crypto/aead.js';
import { signObject } from '../crypto/sign.js';
import { CHAT_INFO } from '../crypto/domains.js';
import { GroveError, type ErrorCode } from '../errors.js';

interface Party { ed: KeyPair; x: KeyPair; id: string }
function party(): Party {
  const ed = generateEd25519();
  return { ed, x: generateX25519(), id: cellIdFromPublic(ed.publicRaw) };
}
const alice = party(); // sender
const bob = party(); // recipient
const carol = party(); // third party
const mallory = party(); // attacker with her own valid identity

function input(over: Partial<SealMessageInput> = {}): SealMessageInput {
  return {
    identity: alice.ed, fromId: alice.id, toId: bob.id, recipientX25519Raw: bob.x.publicRaw,
    text: 'hi Bob 👋', sentAt: 1_767_225_600_123, seq: 7, ...over,
  };
}
const bobKeys: OpenMessageKeys = { expectedTo: bob.id, x25519PrivateKey: bob.x.privateKey, x25519PublicRaw: bob.x.publicRaw };
const openBob = (e: unknown) => openMessage(e, bobKeys);
const wire = (e: unknown): unknown => JSON.parse(JSON.stringify(e));

function code(c: ErrorCode | ErrorCode[]) {
  const codes = Array.isArray(c) ? c : [c];
  return (e: unknown) => e instanceof GroveError && codes.includes(e.code);
}

test('message round-trips: sealed, sent as JSON, opened by the recipient', () => {
  const e = sealMessage(input());
  assert.deepEqual(Object.keys(e).sort(), [...CHAT_FIELDS].sort());
  assert.equal(e.v, 1);
  assert.match(e.id, /^[0-9a-f]{32}$/);
  assert.deepEqual(openBob(wire(e)), { id: e.id, from: alice.id, to: bob.id, text: 'hi Bob 👋', sent_at: 1_767_225_600_123, seq: 7 });
});

test('every message gets a fresh id, ephemeral key and nonce', () => {
  const a = sealMessage(input());
  const b = sealMessage(input());
  assert.notEqual(a.id, b.id);
  assert.notEqual(a.eph, b.eph);
  assert.notEqual(a.nonce, b.nonce);
  assert.notEqual(a.ciphertext, b.ciphertext);
  assert.equal(Buffer.from(a.eph, 'base64').length, 32);
  assert.equal(Buffer.from(a.nonce, 'base64').length, 12);
});

test('a third party cannot open the message', () => {
  const e = sealMessage(input());
  const carolAsBob: OpenMessageKeys = { expectedTo: bob.id, x25519PrivateKey: carol.x.privateKey, x25519PublicRaw: carol.x.publicRaw };
  assert.throws(() => openMessage(e, carolAsBob), code('UNAUTHENTICATED'));
  const carolKeys: OpenMessageKeys = { expectedTo: carol.id, x25519PrivateKey: carol.x.privateKey, x25519PublicRaw: carol.x.publicRaw };
  assert.throws(() => openMessage(e, carolKeys), code('FORBIDDEN'));
});

function alter(e: ChatEnvelope, field: keyof ChatEnvelope): Record<string, unknown> {
  const out: Record<string, unknown> = { ...e };
  const flipB64 = (s: string, byte: number) => {
    const b = Buffer.from(s, 'base64');
    b[byte] = (b[byte] ?? 0) ^ 0x80;
    return b.toString('base64');
  };
  switch (field) {
    case 'v': out.v = 2; break;
    case 'id': out.id = randomBytes(16).toString('hex'); break;
    case 'from': out.from = mallory.id; break;
    case 'to': out.to = carol.id; break;
    case 'sent_at': out.sent_at = e.sent_at + 1; break;
    case 'seq': out.seq = e.seq + 1; break;
    case 'eph': out.eph = flipB64(e.eph, 3); break;
    case 'nonce': out.nonce = flipB64(e.nonce, 0); break;
    case 'ciphertext': out.ciphertext = flipB64(e.ciphertext, 2); break;
    case 'signature': out.signature = flipB64(e.signature, 20); break;
  }
  return out;
}

test('altering any one field of an envelope makes it refused', () => {
  const e = sealMessage(input());
  for (const field of CHAT_FIELDS) {
    const bad = alter(e, field);
    assert.notDeepEqual(bad, e, field);
    // Only `v` is refused by parsing; the rest stay well formed and fail a real check.
    const expected: ErrorCode = field === 'v' ? 'BAD_INPUT' : field === 'to' ? 'FORBIDDEN' : 'UNAUTHENTICATED';
    if (field !== 'v') assert.doesNotThrow(() => parseEnvelope(bad), field);
    assert.throws(() => openBob(bad), code(expected), field);
  }
});

test('an envelope signed by someone other than `from` is refused', () => {
  const { signature: _s, ...body } = sealMessage(input());
  assert.throws(() => openBob(signObject(mallory.ed.privateKey, body)), code('UNAUTHENTICATED'));
});

test('sealMessage refuses a fromId that is not the identity key', () => {
  assert.throws(() => sealMessage(input({ fromId: mallory.id })), code('BAD_INPUT'));
});

test('AAD binding: a ciphertext re-signed with another header does not decrypt', () => {
  const { signature: _s, ...body } = sealMessage(input());
  // Mallory claims Alice's message as her own.
  assert.throws(() => openBob(signObject(mallory.ed.privateKey, { ...body, from: mallory.id })), code('UNAUTHENTICATED'));
  // Even the sender cannot move a ciphertext to another id, time or position.
  for (const over of [{ id: randomBytes(16).toString('hex') }, { sent_at: body.sent_at + 1 }, { seq: body.seq + 1 }]) {
    const moved = signObject(alice.ed.privateKey, { ...body, ...over });
    assert.throws(() => openBob(moved), code('UNAUTHENTICATED'), JSON.stringify(over));
  }
  // Sanity: re-signing the unchanged body is accepted, so the failures above are the AAD's.
  assert.equal(openBob(signObject(alice.ed.privateKey, body)).text, 'hi Bob 👋');
});

test('a message addressed to another cell is FORBIDDEN', () => {
  const e = sealMessage(input({ toId: carol.id, recipientX25519Raw: carol.x.publicRaw }));
  assert.throws(() => openBob(e), code('FORBIDDEN'));
});

test('a low-order ephemeral key in a signed envelope is UNAUTHENTICATED, not a crash', () => {
  const { signature: _s, ...body } = sealMessage(input());
  const e = signObject(alice.ed.privateKey, { ...body, eph: Buffer.alloc(32).toString('base64') });
  assert.throws(() => openBob(e), code('UNAUTHENTICATED'));
});

test('an authenticated message whose plaintext is not UTF-8 is BAD_INPUT', () => {
  const id = randomBytes(16);
  const nonce = randomBytes(12);
  const { ephPublicRaw, key } = senderAgreement(bob.x.publicRaw, CHAT_INFO);
  const aad = chatAad(alice.ed.publicRaw, bob.ed.publicRaw, id, 1, 1);
  const e = signObject(alice.ed.privateKey, {
    v: 1, id: id.toString('hex'), from: alice.id, to: bob.id, sent_at: 1, seq: 1,
    eph: ephPublicRaw.toString('base64'), nonce: nonce.toString('base64'),
    ciphertext: seal(key, nonce, aad, Buffer.from([0x61, 0xff, 0xfe])).toString('base64'),
  });
  assert.throws(() => openBob(e), code('BAD_INPUT'));
});

test('openMessage with a public key that does not match the private key is a programmer error', () => {
  const e = sealMessage(input());
  assert.throws(() => openMessage(e, { ...bobKeys, x25519PublicRaw: carol.x.publicRaw }), RangeError);
});

const b64Len = (n: number) => randomBytes(n).toString('base64');
const MALFORMED: [string, (e: Record<string, unknown>) => unknown][] = [
  ['null', () => null],
  ['undefined', () => undefined],
  ['array', (e) => [e]],
  ['string', (e) => JSON.stringify(e)],
  ['missing field', (e) => { const { seq: _s, ...rest } = e; return rest; }],
  ['extra field', (e) => ({ ...e, text: 'plain' })],
  ['v as string', (e) => ({ ...e, v: '1' })],
  ['v missing-as-null', (e) => ({ ...e, v: null })],
  ['id uppercase', (e) => ({ ...e, id: String(e.id).toUpperCase() })],
  ['id short', (e) => ({ ...e, id: String(e.id).slice(2) })],
  ['id number', (e) => ({ ...e, id: 5 })],
  ['from not a cell id', (e) => ({ ...e, from: 'alice' })],
  ['to array', (e) => ({ ...e, to: [e.to] })],
  ['sent_at negative', (e) => ({ ...e, sent_at: -1 })],
  ['sent_at string', (e) => ({ ...e, sent_at: '1' })],
  ['seq fraction', (e) => ({ ...e, seq: 0.5 })],
  ['seq unsafe', (e) => ({ ...e, seq: 2 ** 60 })],
  ['eph 31 bytes', (e) => ({ ...e, eph: b64Len(31) })],
  ['eph not base64', (e) => ({ ...e, eph: '%'.repeat(44) })],
  ['nonce 11 bytes', (e) => ({ ...e, nonce: b64Len(11) })],
  ['nonce 13 bytes', (e) => ({ ...e, nonce: b64Len(13) })],
  ['ciphertext empty', (e) => ({ ...e, ciphertext: '' })],
  ['ciphertext truncated to the tag', (e) => ({ ...e, ciphertext: b64Len(16) })],
  ['ciphertext truncated', (e) => ({ ...e, ciphertext: String(e.ciphertext).slice(0, 8) })],
  ['ciphertext bad base64', (e) => ({ ...e, ciphertext: String(e.ciphertext).replace(/.$/, '-') })],
  ['ciphertext with whitespace', (e) => ({ ...e, ciphertext: ` ${String(e.ciphertext).slice(1)}` })],
  ['ciphertext oversized', (e) => ({ ...e, ciphertext: b64Len(MAX_CHAT_TEXT_BYTES + 17) })],
  ['ciphertext huge', (e) => ({ ...e, ciphertext: 'A'.repeat(20_000_000) })],
  ['signature 65 bytes', (e) => ({ ...e, signature: b64Len(65) })],
  ['signature number', (e) => ({ ...e, signature: 0 })],
];

test('malformed envelopes are BAD_INPUT, never a crash', () => {
  const e = sealMessage(input()) as unknown as Record<string, unknown>;
  for (const [name, make] of MALFORMED) {
    assert.throws(() => openBob(make(e)), code('BAD_INPUT'), name);
  }
});

test('text limits: 1..64 KiB of well-formed UTF-8', () => {
  const ok = (text: string) => assert.equal(openBob(wire(sealMessage(input({ text })))).text, text);
  ok('a'.repeat(MAX_CHAT_TEXT_BYTES));
  ok('é'.repeat(MAX_CHAT_TEXT_BYTES / 2));
  ok('\n');
  const cases: [string, unknown][] = [
    ['empty', ''],
    ['one byte over (ASCII)', 'a'.repeat(MAX_CHAT_TEXT_BYTES + 1)],
    ['one byte over (2-byte chars)', 'é'.repeat(MAX_CHAT_TEXT_BYTES / 2) + 'a'],
    ['lone surrogate', 'a\udc00'],
    ['not a string', 42],
  ];
  for (const [name, text] of cases) assert.throws(() => sealMessage(input({ text: text as string })), code('BAD_INPUT'), name);
});

test('sealMessage refuses inputs outside the format with BAD_INPUT', () => {
  const cases: [string, Partial<SealMessageInput>][] = [
    ['bad id', { id: 'xyz' }],
    ['uppercase id', { id: 'A'.repeat(32) }],
    ['short nonce', { nonce: randomBytes(11) }],
    ['bad to', { toId: 'bob' }],
    ['short recipient key', { recipientX25519Raw: randomBytes(16) }],
    ['low-order recipient key', { recipientX25519Raw: Buffer.alloc(32) }],
    ['negative seq', { seq: -1 }],
    ['fractional sent_at', { sentAt: 1.25 }],
  ];
  for (const [name, over] of cases) assert.throws(() => sealMessage(input(over)), code('BAD_INPUT'), name);
});

test('the largest valid envelope fits MAX_CHAT_ENVELOPE_JSON_BYTES', () => {
  const e = sealMessage(input({ text: '😀'.repeat(MAX_CHAT_TEXT_BYTES / 4), sentAt: Number.MAX_SAFE_INTEGER, seq: Number.MAX_SAFE_INTEGER }));
  assert.ok(Buffer.byteLength(JSON.stringify(e)) <= MAX_CHAT_ENVELOPE_JSON_BYTES);
  assert.equal(openBob(wire(e)).seq, Number.MAX_SAFE_INTEGER);
});

test('property: random texts round-trip', () => {
  fc.assert(fc.property(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 300 }),
    fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    (text, sentAt, seq) => {
      const m = openBob(wire(sealMessage(input({ text, sentAt, seq }))));
      assert.equal(m.text, text);
      assert.equal(m.sent_at, sentAt);
      assert.equal(m.seq, seq);
    },
  ), { numRuns: 100 });
});
