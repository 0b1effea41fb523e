import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineLogger } from './log.js';

test('line logger: one pino-shaped JSON line per entry at or above its level', () => {
  const lines: string[] = [];
  const log = lineLogger('warn', (l) => lines.push(l), () => 1700000000000);
  log.info({ cell: 'abcd' }, 'cell connected');
  log.warn({ cell: 'abcd' }, 'slow');
  assert.equal(lines.length, 1);
  assert.ok(lines[0]!.endsWith('\n'));
  assert.deepEqual(JSON.parse(lines[0]!), { level: 40, time: 1700000000000, pid: process.pid, cell: 'abcd', msg: 'slow' });
  const all: string[] = [];
  lineLogger('nonsense', (l) => all.push(l)).info({}, 'x');
  assert.equal(all.length, 1, 'an unknown level means info');
  const none: string[] = [];
  lineLogger('silent', (l) => none.push(l)).warn({}, 'x');
  assert.equal(none.length, 0);
});
