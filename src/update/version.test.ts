import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, parseVersion } from './version.js';

test('parseVersion accepts MAJOR.MINOR.PATCH only', () => {
  assert.deepEqual(parseVersion('1.2.3'), { major: 1, minor: 2, patch: 3 });
  for (const bad of ['1.2', '01.2.3', '1.2.3-rc1', 'v1.2.3', ' 1.2.3', '1.2.3.4', '', 7, null]) {
    assert.equal(parseVersion(bad), undefined, String(bad));
  }
});

test('compareVersions orders numerically, not as text', () => {
  const v = (s: string) => parseVersion(s)!;
  assert.ok(compareVersions(v('0.10.0'), v('0.9.9')) > 0);
  assert.ok(compareVersions(v('1.0.0'), v('0.99.99')) > 0);
  assert.equal(compareVersions(v('2.3.4'), v('2.3.4')), 0);
  assert.ok(compareVersions(v('2.3.4'), v('2.3.5')) < 0);
});
