import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { grantFilename, fileTypeOf } from './names.js';
import { createGrant, parseGrant } from '../formats/grant.js';
import { generateEd25519, generateX25519, cellIdFromPublic } from '../crypto/keys.js';

const creator = generateEd25519();
const recipient = generateEd25519();
const rx = generateX25519();

/** Whether the grant format accepts this file name (createGrant and the strict parser). */
function accepted(filename: string, fileType = 'application/octet-stream'): boolean {
  const g = createGrant({
    identity: creator, creatorId: cellIdFromPublic(creator.publicRaw), recipientId: cellIdFromPublic(recipient.publicRaw),
    recipientX25519Raw: rx.publicRaw, manifestHash: randomBytes(32).toString('hex'), fileKey: randomBytes(32),
    filename, fileType, totalSize: 1, grantedAt: 1,
  });
  return parseGrant(JSON.parse(JSON.stringify(g))).filename === filename;
}

test('any local file name becomes one the grant format accepts', () => {
  const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((n) => String.fromCharCode(n)); // lone surrogates too
  const names = fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), fc.string({ unit: codeUnit, maxLength: 400 }));
  fc.assert(fc.property(names, (name) => accepted(grantFilename(name))), { numRuns: 400 });
});

test('plain names are kept; bad characters are replaced; long names keep their extension', () => {
  assert.equal(grantFilename('Report 2024 (final).pdf'), 'Report 2024 (final).pdf');
  assert.equal(grantFilename('a/b\\c\u0007d\u202egpj.exe'), 'a_b_c_d_gpj.exe');
  assert.equal(grantFilename('..'), 'file');
  assert.equal(grantFilename(''), 'file');
  const long = grantFilename('é'.repeat(300) + '.tar');
  assert.ok(long.endsWith('.tar'));
  assert.ok(Buffer.byteLength(long) <= 255 && Buffer.byteLength(long) >= 250);
  assert.ok(accepted(long));
});

test('file types come from the extension and are valid grant MIME types', () => {
  assert.equal(fileTypeOf('x.PDF'), 'application/pdf');
  assert.equal(fileTypeOf('photo.jpeg'), 'image/jpeg');
  assert.equal(fileTypeOf('noext'), 'application/octet-stream');
  for (const ext of ['.txt', '.docx', '.svg', '.mkv', '.7z', '.whatever']) assert.ok(accepted('f', fileTypeOf(`f${ext}`)), ext);
});
