import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync } from 'node:crypto';
import { hashPassword, verifyPassword, MIN_ITERATIONS, randomPassword } from './password.js';

test('dashboard_auth is pbkdf2_sha256$iterations$salt$hash and verifies (docs/design.md §1)', () => {
  const salt = Buffer.alloc(16, 1);
  const stored = hashPassword('correct horse', 1000, salt);
  const [scheme, iters, s, h] = stored.split('$');
  assert.equal(scheme, 'pbkdf2_sha256');
  assert.equal(iters, '1000');
  assert.equal(s, salt.toString('base64'));
  assert.equal(h, pbkdf2Sync('correct horse', salt, 1000, 32, 'sha256').toString('base64'));
  assert.equal(verifyPassword('correct horse', stored), true);
  assert.equal(verifyPassword('correct horsf', stored), false);
  assert.equal(verifyPassword('x', 'garbage'), false);
  assert.equal(verifyPassword('x', 'pbkdf2_sha256$notanumber$AA==$AA=='), false);
});

test('the default cost is at least 600 000 iterations', () => {
  assert.ok(MIN_ITERATIONS >= 600_000);
  assert.match(hashPassword('p'), /^pbkdf2_sha256\$600000\$/);
});

test('generated passwords are 20 characters and differ', () => {
  const a = randomPassword();
  const b = randomPassword();
  assert.equal(a.length, 20);
  assert.notEqual(a, b);
});
