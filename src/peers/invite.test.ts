import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createHmac } from 'node:crypto';
import Database from 'better-sqlite3';
import { mintInvite, mintToken, decodeInvite, checkToken, spendToken } from './invite.js';
import { migrate } from '../store/db.js';
import { MIGRATIONS } from '../store/migrations.js';
import { GroveError } from '../errors.js';

const ID = 'a'.repeat(52);
const forbidden = (re: RegExp) => (e: unknown) => e instanceof GroveError && e.code === 'FORBIDDEN' && re.test(e.message);

test('an invite code round-trips and its token checks out until it expires', () => {
  const secret = randomBytes(32);
  const now = 1_700_000_000_000;
  const { code, invite } = mintInvite(secret, { id: ID, name: 'n', routes: ['http://10.0.0.1:7420/'], ttlS: 60, nowMs: now });
  assert.match(code, /^[A-Za-z0-9_-]+$/);
  const back = decodeInvite(`  ${code}\n`);
  assert.deepEqual(back, { ...invite, routes: ['https://10.0.0.1:7420'] });
  assert.equal(back.exp, 1_700_000_060);
  const ok = checkToken(secret, back.token, now + 59_000);
  assert.equal(ok.expS, back.exp);
  assert.match(ok.tokenId, /^[0-9a-f]{32}$/);
  assert.throws(() => checkToken(secret, back.token, now + 60_000), forbidden(/expired/));
});

test('the token layout is id ‖ exp ‖ HMAC(peer_secret, domain ‖ id ‖ exp)', () => {
  const secret = randomBytes(32);
  const id = Buffer.alloc(16, 7);
  const token = Buffer.from(mintToken(secret, 1234, () => id), 'base64url');
  assert.equal(token.length, 56);
  assert.deepEqual(token.subarray(0, 16), id);
  assert.equal(token.readBigUInt64BE(16), 1234n);
  const mac = createHmac('sha256', secret).update('grove-invite-v1').update(id).update(token.subarray(16, 24)).digest();
  assert.deepEqual(token.subarray(24), mac);
});

test('forged, tampered or malformed tokens are refused', () => {
  const secret = randomBytes(32);
  const now = 1_700_000_000_000;
  const token = mintToken(secret, 1_700_000_100);
  assert.throws(() => checkToken(randomBytes(32), token, now), forbidden(/not valid/));
  const raw = Buffer.from(token, 'base64url');
  for (const i of [0, 20, 40]) {
    const t = Buffer.from(raw);
    t[i]! ^= 1;
    assert.throws(() => checkToken(secret, t.toString('base64url'), now), forbidden(/not valid/));
  }
  for (const bad of [undefined, 42, '', 'short', token + 'A', token.slice(0, -1) + '!']) {
    assert.throws(() => checkToken(secret, bad, now), forbidden(/not valid/));
  }
});

test('a token is spent once', () => {
  const db = new Database(':memory:');
  migrate(db, MIGRATIONS);
  const now = 1_700_000_000_000;
  spendToken(db, 'ab'.repeat(16), 1_700_000_100, now);
  assert.throws(() => spendToken(db, 'ab'.repeat(16), 1_700_000_100, now), forbidden(/already used/));
  // Expired entries are pruned (they can no longer pass checkToken anyway).
  spendToken(db, 'cd'.repeat(16), 1_700_000_200, 1_700_000_150_000);
  assert.deepEqual(db.prepare('SELECT token_id FROM used_invites').all(), [{ token_id: 'cd'.repeat(16) }]);
});

test('malformed invite codes are BAD_INPUT', () => {
  const good = JSON.parse(Buffer.from(mintInvite(randomBytes(32), { id: ID, name: 'n', routes: ['http://h:1'], ttlS: 5, nowMs: 0 }).code, 'base64url').toString());
  const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  for (const bad of ['', 'not base64!', enc([]), enc({ ...good, v: 2 }), enc({ ...good, id: 'x' }), enc({ ...good, routes: [] }),
    enc({ ...good, routes: ['ftp://x'] }), enc({ ...good, token: 'x' }), enc({ ...good, exp: -1 }), 'A'.repeat(9000)]) {
    assert.throws(() => decodeInvite(bad), (e: unknown) => e instanceof GroveError && e.code === 'BAD_INPUT', bad.slice(0, 30));
  }
});
