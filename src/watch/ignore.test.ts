import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_IGNORE, ignoreMatcher } from './ignore.js';

test('default patterns skip editor and download temporaries, not ordinary files', () => {
  const ignored = ignoreMatcher(DEFAULT_IGNORE);
  for (const n of ['.report.txt.swp', '~$budget.xlsx', 'movie.mkv.part', 'setup.exe.crdownload', 'x.tmp', '.#notes.org', 'notes.txt~', '.~lock.a.odt#']) {
    assert.equal(ignored(n), true, n);
  }
  for (const n of ['report.txt', 'swp', 'tmp.txt', 'part.mkv', 'a$b', 'photo.jpeg']) assert.equal(ignored(n), false, n);
});

test('glob syntax: * and ? only, everything else literal', () => {
  const m = ignoreMatcher(['a?c', '[x].*', 'a.b']);
  assert.equal(m('abc'), true);
  assert.equal(m('abbc'), false);
  assert.equal(m('[x].log'), true);
  assert.equal(m('x.log'), false);
  assert.equal(m('aXb'), false, 'a dot is a literal dot');
  assert.equal(ignoreMatcher([])('anything'), false);
});
