import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import {
  BATCH_MAGIC, BatchParser, FRAME_HEAD_BYTES, batchBodyBytes, encodeFrameHead, parseBatchResults, type BatchEvent, type BatchKind, type BatchLimits,
} from './batch.js';
import { GroveError } from '../errors.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const code = (c: string) => (e: unknown) => e instanceof GroveError && e.code === c;
const LIMITS: BatchLimits = { maxObjects: 8, maxBodyBytes: 64 * 1024 };

function body(objects: { data: Buffer; kind?: BatchKind; hash?: string }[]): Buffer {
  return Buffer.concat([BATCH_MAGIC, ...objects.flatMap((o) => [encodeFrameHead(o.hash ?? sha(o.data), o.kind ?? 'chunk', o.data.length), o.data])]);
}

interface Parsed { hash: string; kind: string | undefined; length: number; data: Buffer; ended: boolean }

/** Feeds `b` to a parser in the given pieces and collects the objects it reports. */
function parse(b: Buffer, cuts: number[] = [], limits = LIMITS): Parsed[] {
  const p = new BatchParser(limits);
  const out: Parsed[] = [];
  const take = (evs: BatchEvent[]) => {
    for (const ev of evs) {
      if (ev.type === 'head') {
        assert.equal(ev.head.index, out.length);
        out.push({ hash: ev.head.hash, kind: ev.head.kind, length: ev.head.length, data: Buffer.alloc(0), ended: false });
      } else if (ev.type === 'data') out.at(-1)!.data = Buffer.concat([out.at(-1)!.data, ev.bytes]);
      else out.at(-1)!.ended = true;
    }
  };
  let at = 0;
  for (const c of [...cuts.filter((x) => x > 0 && x < b.length)].sort((x, y) => x - y)) {
    take(p.push(b.subarray(at, c)));
    at = c;
  }
  take(p.push(b.subarray(at)));
  p.end();
  assert.equal(p.bytes, b.length);
  return out;
}

test('a batch body round-trips, whatever pieces it arrives in', () => {
  const objs = [
    { data: randomBytes(1000), kind: 'chunk' as const },
    { data: Buffer.alloc(0), kind: 'manifest' as const },
    { data: randomBytes(3), kind: 'index' as const },
    { data: randomBytes(5000), kind: 'chunk' as const },
  ];
  const b = body(objs);
  assert.equal(b.length, batchBodyBytes(objs.map((o) => o.data.length)));
  const expect = objs.map((o) => ({ hash: sha(o.data), kind: o.kind, length: o.data.length, data: o.data, ended: true }));
  assert.deepEqual(parse(b), expect);
  // One byte at a time, and at random cuts.
  assert.deepEqual(parse(b, Array.from({ length: b.length }, (_, i) => i)), expect);
  fc.assert(fc.property(fc.array(fc.nat({ max: b.length }), { maxLength: 20 }), (cuts) => {
    assert.deepEqual(parse(b, cuts), expect);
  }), { numRuns: 200 });
});

test('an empty batch (the magic alone) is valid; less than the magic, or another magic, is not', () => {
  assert.deepEqual(parse(BATCH_MAGIC), []);
  assert.throws(() => parse(Buffer.alloc(0)), code('BAD_INPUT'));
  assert.throws(() => parse(BATCH_MAGIC.subarray(0, 7)), code('BAD_INPUT'));
  assert.throws(() => new BatchParser(LIMITS).push(Buffer.from('grvbat02')), code('BAD_INPUT'));
  assert.throws(() => new BatchParser(LIMITS).push(Buffer.from('PUT /api')), code('BAD_INPUT'));
});

test('a body cut inside a frame head or inside an object is refused as a whole', () => {
  const b = body([{ data: randomBytes(100) }, { data: randomBytes(100) }]);
  const second = BATCH_MAGIC.length + FRAME_HEAD_BYTES + 100;
  for (const end of [second + 1, second + FRAME_HEAD_BYTES - 1, second + FRAME_HEAD_BYTES, b.length - 1, BATCH_MAGIC.length + 5]) {
    assert.throws(() => parse(b.subarray(0, end)), code('BAD_INPUT'), `cut at ${end}`);
  }
  // Cut exactly at a frame boundary: a shorter, valid batch (the signed body hash is what
  // tells the holder it is not the body that was sent).
  assert.equal(parse(b.subarray(0, second)).length, 1);
});

test('the object count is bounded: at the bound it parses, one more is TOO_LARGE', () => {
  const objs = Array.from({ length: LIMITS.maxObjects }, (_, i) => ({ data: Buffer.from([i]) }));
  assert.equal(parse(body(objs)).length, LIMITS.maxObjects);
  const over = body([...objs, { data: Buffer.from('one more') }]);
  assert.throws(() => parse(over), code('TOO_LARGE'));
  // Refused at the extra frame's head, before any of its bytes would be taken.
  const p = new BatchParser(LIMITS);
  const upTo = over.length - 'one more'.length - 1;
  p.push(over.subarray(0, upTo));
  assert.throws(() => p.push(over.subarray(upTo)), code('TOO_LARGE'));
});

test('the body size is bounded: exactly at the bound it parses, one byte more is TOO_LARGE', () => {
  const limits = { maxObjects: 8, maxBodyBytes: 4096 };
  const fill = limits.maxBodyBytes - BATCH_MAGIC.length - FRAME_HEAD_BYTES;
  assert.equal(parse(body([{ data: randomBytes(fill) }]), [], limits).length, 1);
  assert.throws(() => parse(body([{ data: randomBytes(fill + 1) }]), [], limits), code('TOO_LARGE'));
  // A head announcing more than the bound is caught as the bytes pass it, not trusted.
  const liar = Buffer.concat([BATCH_MAGIC, encodeFrameHead(sha(Buffer.alloc(1)), 'chunk', 0xffffffff), randomBytes(limits.maxBodyBytes)]);
  assert.throws(() => parse(liar, [], limits), code('TOO_LARGE'));
});

test('an unknown kind, a wrong hash or an oversized object is reported, not a framing error', () => {
  const data = randomBytes(300);
  const b = Buffer.concat([
    BATCH_MAGIC,
    encodeFrameHead(sha(data), 'chunk', data.length), data,
    Buffer.concat([Buffer.from(sha(data), 'hex'), Buffer.from([7]), Buffer.from([0, 0, 0, 2])]), Buffer.from('hi'),
    encodeFrameHead(sha(Buffer.from('other')), 'manifest', 5), Buffer.from('wrong'),
  ]);
  const got = parse(b);
  assert.deepEqual(got.map((o) => o.kind), ['chunk', undefined, 'manifest']);
  assert.equal(got[1]!.data.toString(), 'hi');
  assert.notEqual(sha(got[2]!.data), got[2]!.hash, 'the holder checks the hash, the parser only frames');
});

test('frame heads are encoded exactly: raw hash, kind code, u32 big-endian length', () => {
  const h = 'ab'.repeat(32);
  const head = encodeFrameHead(h, 'manifest', 0x01020304);
  assert.equal(head.toString('hex'), `${h}0101020304`);
  assert.equal(encodeFrameHead(h, 'index', 0).subarray(32).toString('hex'), '0200000000');
  assert.throws(() => encodeFrameHead('AB'.repeat(32), 'chunk', 1), code('INTERNAL'));
  assert.throws(() => encodeFrameHead(h, 'chunk', 2 ** 32), code('INTERNAL'));
  assert.throws(() => encodeFrameHead(h, 'chunk', -1), code('INTERNAL'));
});

test('a holder\'s answer is trusted only with one result per object, in order, naming it', () => {
  const sent = [{ hash: 'a'.repeat(64), size: 10 }, { hash: 'b'.repeat(64), size: 20 }];
  const ok = { results: [{ hash: sent[0]!.hash, stored: true, size: 10 }, { hash: sent[1]!.hash, stored: false, error: 'QUOTA_EXCEEDED', message: 'full' }] };
  assert.deepEqual(parseBatchResults(ok, sent), [
    { hash: sent[0]!.hash, stored: true, size: 10 },
    { hash: sent[1]!.hash, stored: false, error: 'QUOTA_EXCEEDED', message: 'full' },
  ]);
  const peerError = code('PEER_ERROR');
  assert.throws(() => parseBatchResults({ results: ok.results.slice(0, 1) }, sent), peerError, 'one missing');
  assert.throws(() => parseBatchResults({ results: [...ok.results].reverse() }, sent), peerError, 'out of order');
  assert.throws(() => parseBatchResults({ results: [{ ...ok.results[0], size: 11 }, ok.results[1]] }, sent), peerError, 'another size');
  assert.throws(() => parseBatchResults({ results: [{ ...ok.results[0], stored: 'yes' }, ok.results[1]] }, sent), peerError);
  assert.throws(() => parseBatchResults(undefined, sent), peerError);
  assert.throws(() => parseBatchResults({ results: [null, null] }, sent), peerError);
  // An unknown refusal code is kept as INTERNAL; long messages are cut.
  const odd = parseBatchResults({ results: [ok.results[0], { hash: sent[1]!.hash, stored: false, error: 'EVIL\u001b[2J', message: 'x'.repeat(1000) }] }, sent);
  assert.deepEqual(odd[1], { hash: sent[1]!.hash, stored: false, error: 'INTERNAL', message: 'x'.repeat(200) });
});

test('golden vector: one chunk "hello" (docs/protocol.md "Batch uploads")', () => {
  const data = Buffer.from('hello');
  const b = body([{ data }]);
  assert.equal(b.toString('hex'), '6772766261743031' + '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824' + '00' + '00000005' + '68656c6c6f');
  assert.equal(sha(b), 'f2efd95cdba0d9afd06b2d43d916ccd786f5176d98e2f50772ea723624d4161a');
});
