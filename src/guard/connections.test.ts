import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionCaps, openFileLimit } from './connections.js';

test('connection caps stay below the descriptor limit with a reserve', () => {
  const cfg = { max_connections: 1024, max_connections_per_address: 64 };
  assert.deepEqual(connectionCaps(cfg, 256), { total: 192, perAddress: 64 });
  assert.deepEqual(connectionCaps(cfg, 1024), { total: 768, perAddress: 64 });
  assert.deepEqual(connectionCaps(cfg, 100_000), { total: 1024, perAddress: 64 });
  assert.deepEqual(connectionCaps(cfg, undefined), { total: 1024, perAddress: 64 });
  assert.deepEqual(connectionCaps({ max_connections: 1024, max_connections_per_address: 500 }, 128), { total: 64, perAddress: 64 });
  assert.deepEqual(connectionCaps(cfg, 50), { total: 8, perAddress: 8 });
});

test('the open-file limit of this process can be read', () => {
  const n = openFileLimit();
  assert.ok(n === undefined || (Number.isSafeInteger(n) && n > 0));
});
