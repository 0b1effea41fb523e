import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateEd25519, rawPublic, cellIdFromPublic } from '../crypto/keys.js';
import { signDeleteRequest, parseDeleteRequest } from './request.js';
import { GroveError } from '../errors.js';

const owner = generateEd25519();
const other = generateEd25519();
const OWNER = cellIdFromPublic(rawPublic(owner.publicKey));
const OTHER = cellIdFromPublic(rawPublic(other.publicKey));
const HOLDER = cellIdFromPublic(rawPublic(generateEd25519().publicKey));
const H1 = 'a'.repeat(64);
const H2 = 'b'.repeat(64);

const code = (fn: () => unknown) => {
  try { fn(); } catch (e) { return (e as GroveError).code; }
  return 'OK';
};

test('a signed delete request round-trips and binds owner, holder and content', () => {
  const r = signDeleteRequest(owner.privateKey, { owner: OWNER, holder: HOLDER, seq: 3, created_at: 1000, manifests: [H1], objects: [H1, H2] });
  const body = JSON.parse(JSON.stringify(r)) as unknown;
  assert.deepEqual(parseDeleteRequest(body, OWNER, HOLDER, 1000), r);
  assert.equal(code(() => parseDeleteRequest(body, OTHER, HOLDER, 1000)), 'FORBIDDEN', 'only from the owner');
  assert.equal(code(() => parseDeleteRequest(body, OWNER, OTHER, 1000)), 'FORBIDDEN', 'only at the holder it names');
  assert.equal(code(() => parseDeleteRequest({ ...r, objects: [H2] }, OWNER, HOLDER, 1000)), 'UNAUTHENTICATED', 'content is signed');
  assert.equal(code(() => parseDeleteRequest({ ...r, seq: 4 }, OWNER, HOLDER, 1000)), 'UNAUTHENTICATED', 'sequence is signed');
  const forged = signDeleteRequest(other.privateKey, { owner: OWNER, holder: HOLDER, seq: 9, created_at: 1000, manifests: [], objects: [H1] });
  assert.equal(code(() => parseDeleteRequest(forged, OWNER, HOLDER, 1000)), 'UNAUTHENTICATED', 'signed by a non-owner');
  assert.equal(code(() => parseDeleteRequest(r, OWNER, HOLDER, 1000 - 6 * 60_000)), 'UNAUTHENTICATED', 'from the future');
});

test('malformed delete requests are refused as bad input', () => {
  const r = signDeleteRequest(owner.privateKey, { owner: OWNER, holder: HOLDER, seq: 1, created_at: 1, manifests: [], objects: [H1] });
  for (const bad of [null, [], { ...r, extra: 1 }, { ...r, type: 'x' }, { ...r, objects: [H1, H1] }, { ...r, objects: ['zz'] }, { ...r, seq: -1 }, { ...r, objects: new Array(1001).fill(H1) }]) {
    assert.equal(code(() => parseDeleteRequest(bad, OWNER, HOLDER, 1)), 'BAD_INPUT', JSON.stringify(bad).slice(0, 80));
  }
});
