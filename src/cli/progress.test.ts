import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { byteProgress, progressEnabled, formatEta } from './progress.js';

function fakeTerminal(isTTY: boolean) {
  let text = '';
  const stream = new Writable({ write(chunk, _enc, cb) { text += String(chunk); cb(); } }) as Writable & { isTTY?: boolean; columns?: number; cursorTo?: unknown; clearLine?: unknown; moveCursor?: unknown };
  stream.isTTY = isTTY;
  stream.columns = 200;
  stream.cursorTo = (_x: number, _y?: number, cb?: () => void) => { cb?.(); return true; };
  stream.clearLine = (_d: number, cb?: () => void) => { cb?.(); return true; };
  stream.moveCursor = (_x: number, _y: number, cb?: () => void) => { cb?.(); return true; };
  return { stream, text: () => text };
}

test('progress shows bytes, rate and ETA on a terminal', () => {
  const term = fakeTerminal(true);
  let now = 0;
  const bar = byteProgress({ enabled: progressEnabled(false, term.stream), total: 4 * 1024 * 1024, label: 'adding', stream: term.stream, now: () => now });
  now = 1000;
  bar.add(1024 * 1024);
  bar.stop();
  assert.match(term.text(), /adding .* 25% 1\.0 MiB\/4\.0 MiB 1\.0 MiB\/s ETA 3s/);
});

test('no progress when stderr is not a terminal or with --json', () => {
  assert.equal(progressEnabled(false, { isTTY: false }), false);
  assert.equal(progressEnabled(true, { isTTY: true }), false);
  const term = fakeTerminal(false);
  const bar = byteProgress({ enabled: progressEnabled(false, term.stream), total: 10, label: 'x', stream: term.stream });
  bar.add(5);
  bar.stop();
  assert.equal(term.text(), '');
});

test('formatEta', () => {
  assert.equal(formatEta(3.2), '3s');
  assert.equal(formatEta(125), '2m05s');
  assert.equal(formatEta(3 * 3600 + 60), '3h01m');
  assert.equal(formatEta(Infinity), '--');
});
