import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeEntryHeader, PayloadParser, checkEntryPath, type PayloadEntry } from './payload.js';

function encode(files: { path: string; data: string; x?: boolean }[]): Buffer {
  return Buffer.concat(files.flatMap((f) => [encodeEntryHeader({ path: f.path, executable: !!f.x, size: Buffer.byteLength(f.data) }), Buffer.from(f.data)]));
}

function parse(bytes: Buffer, step: number): { entries: PayloadEntry[]; content: Map<string, string> } {
  const entries: PayloadEntry[] = [];
  const content = new Map<string, string>();
  let cur = '';
  const p = new PayloadParser({
    onEntry: (e) => { entries.push(e); cur = e.path; content.set(cur, ''); },
    onData: (d) => content.set(cur, content.get(cur) + d.toString()),
    onEntryEnd: () => {},
  });
  for (let i = 0; i < bytes.length; i += step) p.push(bytes.subarray(i, i + step));
  p.end();
  return { entries, content };
}

test('payload round trip, fed in any piece size', () => {
  const files = [{ path: 'a', data: '' }, { path: 'bin/grove', data: '#!x', x: true }, { path: 'dist/src/é.js', data: 'export {}\n' }];
  const bytes = encode(files);
  for (const step of [1, 2, 3, 7, 64, bytes.length]) {
    const { entries, content } = parse(bytes, step);
    assert.deepEqual(entries.map((e) => [e.path, e.executable, e.size]), [['a', false, 0], ['bin/grove', true, 3], ['dist/src/é.js', false, 10]]);
    assert.equal(content.get('dist/src/é.js'), 'export {}\n');
  }
});

test('payload parser refuses disorder, repeats, truncation and unsafe paths', () => {
  assert.throws(() => parse(encode([{ path: 'b', data: '' }, { path: 'a', data: '' }]), 5), /order/);
  assert.throws(() => parse(encode([{ path: 'a', data: '' }, { path: 'a', data: '' }]), 5), /order/);
  const whole = encode([{ path: 'a', data: 'hello' }]);
  assert.throws(() => parse(whole.subarray(0, whole.length - 1), 4), /truncated/);
  for (const bad of ['', '/etc/passwd', '../x', 'a/../../x', 'a//b', 'a/./b', 'a\\b', 'a\0b']) {
    assert.throws(() => checkEntryPath(bad), /bad path/, JSON.stringify(bad));
  }
  // A header naming an unsafe path is refused by the parser too (not only by the encoder).
  const evil = Buffer.concat([Buffer.from([0, 4]), Buffer.from('../x'), Buffer.from([0]), Buffer.alloc(8)]);
  assert.throws(() => parse(evil, 3), /bad path/);
});
