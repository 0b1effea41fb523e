import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { nodeFlagsOf, parseShebang } from './node-flags.js';

test('a #! line gives its node options, and only well-formed ones', () => {
  assert.deepEqual(parseShebang('#!/usr/bin/env node'), []);
  assert.deepEqual(parseShebang('#!/usr/bin/env -S node --max-semi-space-size=4'), ['--max-semi-space-size=4']);
  assert.deepEqual(parseShebang('#!/usr/bin/env -S node --a=1 --b'), ['--a=1', '--b']);
  assert.deepEqual(parseShebang('#!/usr/bin/env -S node --a=$(rm -rf /)'), []);
  assert.deepEqual(parseShebang('#!/usr/bin/env -S node script.js'), []);
  assert.deepEqual(parseShebang('#!/bin/sh'), []);
  assert.deepEqual(parseShebang('// no shebang'), []);
  assert.deepEqual(nodeFlagsOf('/nonexistent/grove'), []);
});

test('bin/grove bounds the young generation (docs/operations.md, "Memory")', () => {
  const bin = fileURLToPath(new URL('../../../bin/grove', import.meta.url));
  assert.ok(nodeFlagsOf(bin).some((f) => f.startsWith('--max-semi-space-size=')), 'the cell runs with a small young generation');
});
