import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCells, pairCells, stopCell, type TestCell } from '../helpers/cells.js';
import { scratch } from './share-helpers.js';
import { runGrove } from '../helpers/ingest.js';
import { chunksOf } from '../../src/ingest/files.js';
import { recordRemoved } from '../../src/store/catalog.js';

// The `grove share | feed | get | unshare | chat` commands, run as the real executable against
// cells running in this process (their control sockets: the CLI goes through the daemon when
// one runs, and works in-process when none does).

function grove(c: TestCell, ...args: string[]) {
  return runGrove(c.root, args);
}

async function json<T>(c: TestCell, ...args: string[]): Promise<T> {
  const r = await grove(c, '--json', ...args);
  assert.equal(r.code, 0, `grove ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

test('CLI: share, feed, get (healing from the sharer), unshare', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const s = await scratch(t);
  const bytes = randomBytes(4 * 1024 * 1024 + 10);
  const added = await s.add(a!, 'data.bin', bytes);
  const out = await mkdtemp(join(tmpdir(), 'grove-cli-out-'));
  t.after(() => rm(out, { recursive: true, force: true }));

  const shared = await json<{ grants: { recipient: string; manifest_hash: string; delivered: boolean }[] }>(a!, 'share', 'data.bin', 'beta');
  assert.deepEqual(shared.grants.map((g) => [g.recipient, g.manifest_hash, g.delivered]), [[b!.id, added.manifest_hash, true]]);

  const feed = await json<{ items: { from: string; filename: string; file_type: string; total_size: number; granted_at: number; manifest_hash: string; available: boolean }[] }>(b!, 'feed');
  assert.equal(feed.items.length, 1);
  const item = feed.items[0]!;
  assert.deepEqual([item.from, item.filename, item.file_type, item.total_size, item.manifest_hash, item.available],
    [a!.id, 'data.bin', 'application/octet-stream', bytes.length, added.manifest_hash, true]);
  assert.equal(typeof item.granted_at, 'number');

  // B lost a chunk: get fetches it from A over A's route.
  const lost = chunksOf(a!.cell.home.db, added.manifest_hash)[0]!.hash;
  await b!.cell.home.objects.remove(lost);
  b!.cell.home.db.transaction(() => recordRemoved(b!.cell.home.db, lost))();
  const got = await grove(b!, 'get', 'data.bin', '-o', join(out, 'copy.bin'));
  assert.equal(got.code, 0, got.stderr);
  assert.ok((await readFile(join(out, 'copy.bin'))).equals(bytes));
  const byHash = await grove(b!, 'get', added.manifest_hash, '-o', join(out, 'copy2.bin'));
  assert.equal(byHash.code, 0, byHash.stderr);
  assert.ok((await readFile(join(out, 'copy2.bin'))).equals(bytes));

  const missing = await grove(b!, 'get', 'nothing-like-it.bin', '-o', join(out, 'x'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^grove: no file named nothing-like-it\.bin/);
  assert.equal(missing.stderr.trim().split('\n').length, 1, 'one line');

  const un = await grove(a!, 'unshare', 'data.bin', 'beta');
  assert.equal(un.code, 0, un.stderr);
  assert.match(un.stdout, /cannot be recalled/);
  assert.deepEqual((await json<{ items: unknown[] }>(b!, 'feed')).items, []);
});

test('CLI: chat both ways, queueing while the peer is down, and a one-line error for an unknown peer', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  const sent = await json<{ message: { delivered: boolean; seq: number } }>(a!, 'chat', 'beta', 'hello', 'there');
  assert.deepEqual([sent.message.delivered, sent.message.seq], [true, 1]);
  const reply = await grove(b!, 'chat', 'alpha', 'hi!');
  assert.equal(reply.code, 0, reply.stderr);
  assert.match(reply.stdout, /^delivered/);

  const conv = await json<{ messages: { from: string; to: string; text: string; sent_at: number; delivered: boolean }[] }>(b!, 'chat', 'alpha');
  assert.deepEqual(conv.messages.map((m) => [m.from, m.to, m.text, m.delivered]), [
    [a!.id, b!.id, 'hello there', true],
    [b!.id, a!.id, 'hi!', true],
  ]);

  // No daemon for A now: the CLI works in-process, and B is down too: the message queues.
  await stopCell(b!);
  await stopCell(a!);
  const queued = await grove(a!, 'chat', 'beta', 'later');
  assert.equal(queued.code, 0, queued.stderr);
  assert.match(queued.stdout, /queued/);
  const onA = await json<{ messages: { text: string; delivered: boolean }[] }>(a!, 'chat', 'beta');
  assert.deepEqual(onA.messages.map((m) => [m.text, m.delivered]), [['hello there', true], ['hi!', true], ['later', false]]);

  const unknown = await grove(a!, 'chat', 'nobody', 'hi');
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /^grove: no peer named nobody/);
});
