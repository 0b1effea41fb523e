import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sealKeyBundle, openKeyBundle, readKeyBundleHeader, DEFAULT_SCRYPT } from './keybundle.js';
import { generateEd25519, generateX25519, privateKeyPem, cellIdFromPublic } from '../crypto/keys.js';
import { GroveError } from '../errors.js';

// Cheap scrypt for tests (STYLE: inject KDF costs); the default is checked separately.
const CHEAP = { N: 1024, r: 8, p: 1 };

function secrets() {
  const id = generateEd25519();
  return {
    cellId: cellIdFromPublic(id.publicRaw),
    s: { identityPem: privateKeyPem(id.privateKey), x25519Pem: privateKeyPem(generateX25519().privateKey), master: randomBytes(32), peerSecret: randomBytes(32) },
  };
}

const isCode = (code: string) => (e: unknown) => e instanceof GroveError && e.code === code;

test('a bundle opens with its passphrase and restores every secret exactly', async () => {
  const { cellId, s } = secrets();
  const bundle = await sealKeyBundle(s, cellId, 'correct horse battery', { scrypt: CHEAP });
  const text = bundle.toString('utf8');
  assert.equal(text.split('\n')[0], 'grove-key-bundle-v1');
  assert.equal(text.split('\n').length, 4); // three lines, trailing newline
  assert.ok(!text.includes(s.master.toString('base64')));
  const opened = await openKeyBundle(bundle, 'correct horse battery');
  assert.equal(opened.cellId, cellId);
  assert.deepEqual(opened.secrets, s);
  const h = readKeyBundleHeader(bundle).header;
  assert.deepEqual([h.kdf, h.n, h.r, h.p, h.cipher], ['scrypt', 1024, 8, 1, 'chacha20-poly1305']);
});

test('a wrong passphrase is one UNAUTHENTICATED error', async () => {
  const { cellId, s } = secrets();
  const bundle = await sealKeyBundle(s, cellId, 'right passphrase', { scrypt: CHEAP });
  await assert.rejects(openKeyBundle(bundle, 'wrong passphrase'), isCode('UNAUTHENTICATED'));
});

test('the passphrase is NFC-normalized', async () => {
  const { cellId, s } = secrets();
  const bundle = await sealKeyBundle(s, cellId, 'caf\u00e9 au lait', { scrypt: CHEAP });
  const opened = await openKeyBundle(bundle, 'cafe\u0301 au lait');
  assert.deepEqual(opened.secrets.master, s.master);
});

test('an altered header or body fails authentication; out-of-range scrypt costs are refused', async () => {
  const { cellId, s } = secrets();
  const bundle = await sealKeyBundle(s, cellId, 'passphrase!', { scrypt: CHEAP });
  const [magic, header, body] = bundle.toString('utf8').split('\n');
  const other = secrets().cellId;
  const swapped = Buffer.from(`${magic}\n${header!.replace(cellId, other)}\n${body}\n`);
  await assert.rejects(openKeyBundle(swapped, 'passphrase!'), isCode('UNAUTHENTICATED'));
  const b = Buffer.from(body!, 'base64');
  b[3]! ^= 1;
  await assert.rejects(openKeyBundle(Buffer.from(`${magic}\n${header}\n${b.toString('base64')}\n`), 'passphrase!'), isCode('UNAUTHENTICATED'));
  const huge = Buffer.from(`${magic}\n${header!.replace('"n":1024', '"n":1073741824')}\n${body}\n`);
  await assert.rejects(openKeyBundle(huge, 'passphrase!'), isCode('BAD_INPUT'));
  await assert.rejects(openKeyBundle(Buffer.from('not a bundle'), 'x'), isCode('BAD_INPUT'));
});

test('the default cost is scrypt N=2^17, r=8, p=1', () => {
  assert.deepEqual(DEFAULT_SCRYPT, { N: 131072, r: 8, p: 1 });
});
