import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginLimiter, growingDelay, DEFAULT_LOGIN_LIMIT } from './login-limit.js';
import { EventLog } from './event-log.js';
import { allowedHosts, hostAllowed, originAllowed, readCookie, attachmentHeader, uploadName } from './security.js';
import { SessionStore, csrfMatches } from './sessions.js';

test('growingDelay doubles after the free failures and stops at the maximum', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((n) => growingDelay(n, 3, 1000, 5000)), [0, 0, 0, 1000, 2000, 4000]);
  assert.equal(growingDelay(1000, 3, 1000, 5000), 5000);
});

test('LoginLimiter: per client, forgotten after a quiet period, and overall', () => {
  const l = new LoginLimiter({ ...DEFAULT_LOGIN_LIMIT, freeFailures: 1, baseDelayMs: 100, globalFreeFailures: 4, globalWindowMs: 1000, forgetAfterMs: 10_000 });
  l.fail('a', 0);
  assert.equal(l.check('a', 0), 100);
  assert.equal(l.check('a', 100), 0);
  l.fail('a', 100);
  assert.equal(l.check('a', 150), 150);
  assert.equal(l.check('b', 150), 0);
  assert.equal(l.check('a', 20_000), 0); // forgotten
  l.succeed('a');
  for (const c of ['c', 'd', 'e', 'f']) l.fail(c, 30_000);
  assert.ok(l.check('z', 30_000) > 0, 'everyone waits once many clients fail');
  assert.equal(l.check('z', 40_000), 0, 'the overall window passes');
});

test('EventLog resumes after an ID, resets on an unknown or too old one', () => {
  const log = new EventLog(3);
  const ids = ['files', 'chat', 'feed', 'peers', 'sync'].map((t) => log.publish(t as 'files').id);
  assert.deepEqual(log.since(ids[2]).map((e) => e.type), ['peers', 'sync']);
  assert.deepEqual(log.since(ids[4]), []);
  assert.equal(log.since(ids[0])[0]!.type, 'reset');
  assert.equal(log.since('ffffffffffff-1')[0]!.type, 'reset');
  assert.equal(log.since('garbage')[0]!.type, 'reset');
  assert.deepEqual(log.since(undefined), []);
});

test('Host and Origin checks', () => {
  const hosts = allowedHosts('127.0.0.1', 7421);
  assert.ok(hostAllowed('127.0.0.1:7421', hosts));
  assert.ok(hostAllowed('LOCALHOST:7421', hosts));
  assert.ok(!hostAllowed('evil.example:7421', hosts));
  assert.ok(!hostAllowed('127.0.0.1:7420', hosts));
  assert.ok(!hostAllowed(undefined, hosts));
  assert.ok(allowedHosts('0.0.0.0', 80, ['nas.lan']).has('nas.lan'));
  assert.ok(originAllowed('http://127.0.0.1:7421', 'same-origin', hosts));
  assert.ok(originAllowed(undefined, undefined, hosts));
  assert.ok(!originAllowed('http://evil.example', undefined, hosts));
  assert.ok(!originAllowed('null', undefined, hosts));
  assert.ok(!originAllowed(undefined, 'cross-site', hosts));
  assert.ok(!originAllowed('https://127.0.0.1:7421', undefined, hosts));
});

test('cookies, attachment names and upload names', () => {
  assert.equal(readCookie('a=1; grove_session=xyz; b=2', 'grove_session'), 'xyz');
  assert.equal(readCookie('grove_sessionx=1', 'grove_session'), undefined);
  assert.equal(attachmentHeader('a"b\\c\r\n.txt'), `attachment; filename="a_b_c__.txt"; filename*=UTF-8''a%22b%5Cc%0D%0A.txt`);
  assert.match(attachmentHeader('été.pdf'), /filename="__t__.pdf"|filename="_t_.pdf"/);
  assert.equal(uploadName('report.pdf'), 'report.pdf');
  for (const bad of ['', '.', '..', 'a/b', 'a\\b', 'a\u0000b', 'x'.repeat(256)]) assert.equal(uploadName(bad), undefined, bad);
});

test('SessionStore: expiry, idle, password fingerprint, CSRF match', () => {
  const s = new SessionStore({ ttlMs: 1000, idleMs: 300, max: 2 });
  const { token, session } = s.open(0, 'fp');
  assert.ok(s.get(token, 200, 'fp'));
  assert.ok(!s.get(token, 250, 'other'), 'a new password file ends it');
  assert.ok(!s.get(token, 260, 'fp'), 'and it stays ended');
  const b = s.open(0, 'fp');
  assert.ok(!s.get(b.token, 400, 'fp'), 'idle');
  assert.ok(csrfMatches(session, session.csrf));
  assert.ok(!csrfMatches(session, undefined));
  assert.ok(!csrfMatches(session, session.csrf.slice(1)));
  s.open(0, 'fp'); s.open(0, 'fp'); s.open(0, 'fp');
  assert.equal(s.size, 2);
});
