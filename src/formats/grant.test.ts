import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  createGrant, verifyGrant, unwrapFileKey, parseGrant, GRANT_FIELDS, WRAPPED_KEY_LENGTH,
  MAX_FILENAME_BYTES, MAX_GRANT_JSON_BYTES, type ShareGrant, type CreateGrantInput,
} from './grant.js';
import { generateEd25519, generateX25519, cellIdFromPublic, type KeyPair } from '../crypto/keys.js';
import { signObject } from '../crypto/sign.js';
import { sha256Hex } from '../crypto/hash.js';
import { GroveError, type ErrorCode } from '../errors.js';

interface Party { ed: KeyPair; x: KeyPair; id: string }
function party(): Party {
  const ed = generateEd25519();
  return { ed, x: generateX25519(), id: cellIdFromPublic(ed.publicRaw) };
}
const alice = party(); // creator
const bob = party(); // recipient
const carol = party(); // third party
const mallory = party(); // attacker with her own valid identity

const fileKey = randomBytes(32);
const manifestHash = sha256Hex('sealed manifest');

function input(over: Partial<CreateGrantInput> = {}): CreateGrantInput {
  return {
    identity: alice.ed, creatorId: alice.id, recipientId: bob.id, recipientX25519Raw: bob.x.publicRaw,
    manifestHash, fileKey, filename: 'holiday.jpg', fileType: 'image/jpeg', totalSize: 123456,
    grantedAt: 1_767_225_600_000, ...over,
  };
}

/** Passes the grant through JSON, as the network does. */
const wire = (g: unknown): unknown => JSON.parse(JSON.stringify(g));

function code(c: ErrorCode | ErrorCode[]) {
  const codes = Array.isArray(c) ? c : [c];
  return (e: unknown) => e instanceof GroveError && codes.includes(e.code);
}

const unwrapBob = (g: unknown) => unwrapFileKey(g as ShareGrant, bob.x.privateKey, bob.x.publicRaw);

test('grant round-trips: created, sent as JSON, verified and unwrapped by the recipient', () => {
  const g = createGrant(input());
  assert.deepEqual(Object.keys(g).sort(), [...GRANT_FIELDS].sort());
  assert.equal(g.creator_pubkey, alice.id);
  assert.equal(g.recipient_pubkey, bob.id);
  const v = verifyGrant(wire(g), bob.id);
  assert.deepEqual(v, g);
  assert.deepEqual(unwrapBob(wire(g)), fileKey);
});

test('encrypted_file_key is eph_pub ‖ 48-byte sealed key, with a fresh ephemeral key per grant', () => {
  const a = createGrant(input());
  const b = createGrant(input());
  const wa = Buffer.from(a.encrypted_file_key, 'base64');
  const wb = Buffer.from(b.encrypted_file_key, 'base64');
  assert.equal(wa.length, WRAPPED_KEY_LENGTH);
  assert.equal(WRAPPED_KEY_LENGTH, 80);
  assert.notDeepEqual(wa.subarray(0, 32), wb.subarray(0, 32));
  assert.notDeepEqual(wa.subarray(32), wb.subarray(32));
  assert.ok(!wa.includes(fileKey), 'file key must not appear in clear');
});

test('a third party cannot unwrap, even holding the grant', () => {
  const g = createGrant(input());
  assert.throws(() => unwrapFileKey(g, carol.x.privateKey, carol.x.publicRaw), code('CORRUPT'));
});

test('a grant addressed to another cell is refused with FORBIDDEN', () => {
  const g = createGrant(input());
  assert.throws(() => verifyGrant(g, carol.id), code('FORBIDDEN'));
});

// One altered value per field; each keeps the field well formed, so the refusal below comes
// from the signature (or recipient) check, not from parsing.
function alter(g: ShareGrant, field: keyof ShareGrant): ShareGrant {
  const out = { ...g };
  const flipB64 = (s: string, byte: number) => {
    const b = Buffer.from(s, 'base64');
    b[byte] = (b[byte] ?? 0) ^ 0x01;
    return b.toString('base64');
  };
  switch (field) {
    case 'manifest_hash': out.manifest_hash = sha256Hex('another manifest'); break;
    case 'encrypted_file_key': out.encrypted_file_key = flipB64(g.encrypted_file_key, 40); break;
    case 'creator_pubkey': out.creator_pubkey = mallory.id; break;
    case 'recipient_pubkey': out.recipient_pubkey = carol.id; break;
    case 'signature': out.signature = flipB64(g.signature, 10); break;
    case 'granted_at': out.granted_at = g.granted_at + 1; break;
    case 'filename': out.filename = 'holiday2.jpg'; break;
    case 'file_type': out.file_type = 'image/png'; break;
    case 'total_size': out.total_size = g.total_size + 1; break;
  }
  return out;
}

test('altering any one field of a grant makes it refused', () => {
  const g = createGrant(input());
  for (const field of GRANT_FIELDS) {
    const bad = alter(g, field);
    assert.notDeepEqual(bad, g, field);
    assert.doesNotThrow(() => parseGrant(bad), `${field}: altered value must stay well formed`);
    const expected: ErrorCode = field === 'recipient_pubkey' ? 'FORBIDDEN' : 'UNAUTHENTICATED';
    assert.throws(() => verifyGrant(bad, bob.id), code(expected), field);
    assert.throws(() => unwrapBob(bad), code(['UNAUTHENTICATED', 'CORRUPT']), field);
  }
});

test('a grant signed by a key other than creator_pubkey is refused', () => {
  const { signature: _s, ...body } = createGrant(input());
  const forged = signObject(mallory.ed.privateKey, body); // still claims alice as creator
  assert.throws(() => verifyGrant(forged, bob.id), code('UNAUTHENTICATED'));
  assert.throws(() => unwrapBob(forged), code('UNAUTHENTICATED'));
});

test('createGrant refuses a creatorId that is not the identity key', () => {
  assert.throws(() => createGrant(input({ creatorId: mallory.id })), code('BAD_INPUT'));
});

test('AAD binding: a wrapped key re-signed under another creator or manifest verifies but never unwraps', () => {
  const { signature: _s, ...body } = createGrant(input());
  // Mallory claims to share a file she cannot read.
  const stolen = signObject(mallory.ed.privateKey, { ...body, creator_pubkey: mallory.id });
  assert.doesNotThrow(() => verifyGrant(stolen, bob.id));
  assert.throws(() => unwrapBob(stolen), code('CORRUPT'));
  // The creator attaching a wrapped key to another manifest.
  const moved = signObject(alice.ed.privateKey, { ...body, manifest_hash: sha256Hex('other') });
  assert.doesNotThrow(() => verifyGrant(moved, bob.id));
  assert.throws(() => unwrapBob(moved), code('CORRUPT'));
});

test('AAD binding: a wrap made for one recipient cell and re-addressed to another does not unwrap', () => {
  // Alice wraps to Bob's X25519 key but signs the grant for Carol's cell ID.
  const g = createGrant(input());
  const { signature: _s, ...body } = g;
  const readdressed = signObject(alice.ed.privateKey, { ...body, recipient_pubkey: carol.id });
  assert.doesNotThrow(() => verifyGrant(readdressed, carol.id));
  assert.throws(() => unwrapBob(readdressed), code('CORRUPT'));
});

test('a low-order ephemeral key in a signed grant is CORRUPT, not a crash', () => {
  const { signature: _s, ...body } = createGrant(input());
  const wrapped = Buffer.from(body.encrypted_file_key, 'base64');
  wrapped.fill(0, 0, 32);
  const g = signObject(alice.ed.privateKey, { ...body, encrypted_file_key: wrapped.toString('base64') });
  assert.doesNotThrow(() => verifyGrant(g, bob.id));
  assert.throws(() => unwrapBob(g), code('CORRUPT'));
});

test('unwrapFileKey with a public key that does not match the private key is a programmer error', () => {
  const g = createGrant(input());
  assert.throws(() => unwrapFileKey(g, bob.x.privateKey, carol.x.publicRaw), RangeError);
});

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const b64Len = (n: number) => randomBytes(n).toString('base64');
const MALFORMED: [string, (g: Record<string, unknown>) => unknown][] = [
  ['null', () => null],
  ['array', (g) => [g]],
  ['string', (g) => JSON.stringify(g)],
  ['number', () => 42],
  ['missing field', (g) => { const { filename: _f, ...rest } = g; return rest; }],
  ['extra field', (g) => ({ ...g, note: 'hi' })],
  ['__proto__ key from JSON', (g) => JSON.parse(JSON.stringify(g).replace('{', '{"__proto__":{"x":1},'))],
  ['non-plain object', (g) => Object.assign(Object.create({ inherited: 1 }) as object, g)],
  ['manifest_hash uppercase', (g) => ({ ...g, manifest_hash: String(g.manifest_hash).toUpperCase() })],
  ['manifest_hash short', (g) => ({ ...g, manifest_hash: String(g.manifest_hash).slice(1) })],
  ['manifest_hash number', (g) => ({ ...g, manifest_hash: 1 })],
  ['encrypted_file_key not base64', (g) => ({ ...g, encrypted_file_key: '!'.repeat(108) })],
  ['encrypted_file_key unpadded', (g) => ({ ...g, encrypted_file_key: b64Len(80).replace(/=+$/, '') })],
  ['encrypted_file_key non-zero padding bits', (g) => {
    // 80 bytes end in "xyz=": the low 2 bits of z are padding. Setting them decodes to the
    // same bytes (Buffer accepts it), so only the canonical-form check can refuse it.
    const s = String(g.encrypted_file_key);
    const idx = B64_ALPHABET.indexOf(s.at(-2) ?? '');
    return { ...g, encrypted_file_key: s.slice(0, -2) + B64_ALPHABET[(idx & ~3) | 1] + '=' };
  }],
  ['encrypted_file_key truncated', (g) => ({ ...g, encrypted_file_key: b64Len(79) })],
  ['encrypted_file_key too long', (g) => ({ ...g, encrypted_file_key: b64Len(81) })],
  ['encrypted_file_key huge', (g) => ({ ...g, encrypted_file_key: 'A'.repeat(10_000_000) })],
  ['encrypted_file_key array', (g) => ({ ...g, encrypted_file_key: [g.encrypted_file_key] })],
  ['creator_pubkey uppercase', (g) => ({ ...g, creator_pubkey: String(g.creator_pubkey).toUpperCase() })],
  ['creator_pubkey short', (g) => ({ ...g, creator_pubkey: String(g.creator_pubkey).slice(1) })],
  ['creator_pubkey non-canonical trailing bits', (g) => ({ ...g, creator_pubkey: String(g.creator_pubkey).slice(0, 51) + '7' })],
  ['recipient_pubkey null', (g) => ({ ...g, recipient_pubkey: null })],
  ['signature 63 bytes', (g) => ({ ...g, signature: b64Len(63) })],
  ['signature not base64', (g) => ({ ...g, signature: '*'.repeat(88) })],
  ['signature missing padding', (g) => ({ ...g, signature: String(g.signature).replace(/=+$/, '') })],
  ['granted_at negative', (g) => ({ ...g, granted_at: -1 })],
  ['granted_at fraction', (g) => ({ ...g, granted_at: 1.5 })],
  ['granted_at string', (g) => ({ ...g, granted_at: String(g.granted_at) })],
  ['granted_at unsafe', (g) => ({ ...g, granted_at: 2 ** 53 })],
  ['total_size NaN', (g) => ({ ...g, total_size: NaN })],
  ['total_size negative', (g) => ({ ...g, total_size: -5 })],
  ['filename empty', (g) => ({ ...g, filename: '' })],
  ['filename dot', (g) => ({ ...g, filename: '.' })],
  ['filename dotdot', (g) => ({ ...g, filename: '..' })],
  ['filename with slash', (g) => ({ ...g, filename: '../etc/passwd' })],
  ['filename with backslash', (g) => ({ ...g, filename: '..\\boot.ini' })],
  ['filename with NUL', (g) => ({ ...g, filename: 'a\u0000b' })],
  ['filename with newline', (g) => ({ ...g, filename: 'a\nb' })],
  ['filename with RLO', (g) => ({ ...g, filename: 'photo\u202egpj.exe' })],
  ['filename lone surrogate', (g) => ({ ...g, filename: 'a\ud800b' })],
  ['filename too long', (g) => ({ ...g, filename: 'é'.repeat(128) })],
  ['filename object', (g) => ({ ...g, filename: { toString: () => 'x' } })],
  ['file_type uppercase', (g) => ({ ...g, file_type: 'Image/JPEG' })],
  ['file_type with parameters', (g) => ({ ...g, file_type: 'text/plain; charset=utf-8' })],
  ['file_type empty', (g) => ({ ...g, file_type: '' })],
  ['file_type no subtype', (g) => ({ ...g, file_type: 'image' })],
  ['file_type huge', (g) => ({ ...g, file_type: `a/${'b'.repeat(300)}` })],
];

test('malformed grants are BAD_INPUT, never a crash', () => {
  const g = createGrant(input()) as unknown as Record<string, unknown>;
  for (const [name, make] of MALFORMED) {
    const bad = make(g);
    assert.throws(() => verifyGrant(bad, bob.id), code('BAD_INPUT'), name);
    assert.throws(() => unwrapBob(bad), code('BAD_INPUT'), name);
  }
});

test('createGrant refuses inputs outside the format with BAD_INPUT', () => {
  const cases: [string, Partial<CreateGrantInput>][] = [
    ['short file key', { fileKey: randomBytes(31) }],
    ['long file key', { fileKey: randomBytes(33) }],
    ['short recipient key', { recipientX25519Raw: randomBytes(31) }],
    ['low-order recipient key', { recipientX25519Raw: Buffer.alloc(32) }],
    ['bad recipient id', { recipientId: 'bob' }],
    ['bad manifest hash', { manifestHash: 'abc' }],
    ['path as filename', { filename: 'dir/file' }],
    ['filename too long', { filename: 'a'.repeat(MAX_FILENAME_BYTES + 1) }],
    ['mime with capitals', { fileType: 'Text/Plain' }],
    ['negative size', { totalSize: -1 }],
    ['fractional time', { grantedAt: 0.5 }],
  ];
  for (const [name, over] of cases) assert.throws(() => createGrant(input(over)), code('BAD_INPUT'), name);
  assert.doesNotThrow(() => createGrant(input({ filename: 'a'.repeat(MAX_FILENAME_BYTES) })));
});

test('the largest valid grant fits MAX_GRANT_JSON_BYTES', () => {
  // '"' is escaped to two bytes in JSON; sizes at their maximum width.
  const g = createGrant(input({
    filename: '"'.repeat(MAX_FILENAME_BYTES), fileType: `a/${'b'.repeat(253)}`,
    totalSize: Number.MAX_SAFE_INTEGER, grantedAt: Number.MAX_SAFE_INTEGER,
  }));
  assert.doesNotThrow(() => verifyGrant(wire(g), bob.id));
  assert.ok(Buffer.byteLength(JSON.stringify(g)) <= MAX_GRANT_JSON_BYTES);
});

test('property: random file keys, sizes and times round-trip', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 32, maxLength: 32 }),
    fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    (key, totalSize, grantedAt) => {
      const g = createGrant(input({ fileKey: key, totalSize, grantedAt }));
      const v = verifyGrant(wire(g), bob.id);
      assert.deepEqual(new Uint8Array(unwrapBob(v)), key);
    },
  ), { numRuns: 100 });
});
