import { test } from 'node:test';
import assert from 'node:assert/strict';
import { watchLimitMessage } from './roots.js';

test('hitting the inotify limits gives the fix, other errors do not', () => {
  for (const code of ['ENOSPC', 'EMFILE']) {
    const m = watchLimitMessage('/data/photos', code)!;
    assert.match(m, /\/data\/photos/);
    assert.match(m, /sysctl fs\.inotify\.max_user_watches=524288/);
    assert.match(m, /\/etc\/sysctl\.d\//);
  }
  assert.equal(watchLimitMessage('/x', 'EACCES'), undefined);
});
