import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { startCells, pairCells, rawSigned, restartCell, waitFor, tlsFetch, type TestCell } from '../helpers/cells.js';
import { signRequest, toHttpHeaders, newNonce } from '../../src/net/signing.js';
import { MAX_OBJECT_BYTES } from '../../src/store/objects.js';
import { getObject, objectTotals, type InventoryPage } from '../../src/store/catalog.js';
import { homePaths } from '../../src/home/paths.js';
import { GroveError } from '../../src/errors.js';
import { BENCH_BYTES } from '../../src/peers/probe.js';

// The object endpoints of docs/design.md §3: GET/PUT /api/objects/{hash}, inventory, bench.

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Every file under chunks/ (objects and temp files). */
function chunkFiles(c: TestCell): string[] {
  const dir = homePaths(c.root).chunks;
  const out: string[] = [];
  for (const shard of existsSync(dir) ? readdirSync(dir) : []) for (const f of readdirSync(join(dir, shard))) out.push(`${shard}/${f}`);
  return out.sort();
}

async function put(from: TestCell, to: TestCell, data: Buffer, query = '') {
  const hash = sha(data);
  const r = await from.cell.client.call<{ stored: boolean; hash: string; size: number }>(to.url, to.id, 'PUT', `/api/objects/${hash}${query}`, { body: data });
  return { hash, ...r };
}

async function pairedTwo(t: import('node:test').TestContext, config?: Record<string, unknown>) {
  const [a, b] = await startCells(t, 2, { config: (i) => (i === 1 && config ? config : {}) });
  await pairCells(a!, b!);
  return [a!, b!] as const;
}

test('an object PUT by a peer is stored, owned by it, listed in the inventory and served back', async (t) => {
  const [a, b] = await pairedTwo(t);
  const data = randomBytes(100_000);
  const stored = once(b.cell.events, 'object-stored');
  const r = await put(a, b, data, '?kind=manifest');
  assert.deepEqual(r.data, { stored: true, hash: r.hash, size: data.length });
  assert.equal((await stored)[0].owner, a.id);
  const row = getObject(b.cell.home.db, r.hash)!;
  assert.equal(row.owner, a.id);
  assert.equal(row.kind, 'manifest');
  assert.deepEqual(await b.cell.home.objects.get(r.hash), data);
  // Served back, streamed and verified against the signed hash.
  const got = await a.cell.download(b.id, `/api/objects/${r.hash}`, async (body, expected) => {
    assert.equal(expected, r.hash);
    const parts: Buffer[] = [];
    for await (const p of body) parts.push(p as Buffer);
    return Buffer.concat(parts);
  });
  assert.deepEqual(got.result, data);
  // Inventory: incremental by sequence number, bounded pages.
  const second = await put(a, b, randomBytes(10));
  const inv = await a.cell.call<InventoryPage>(b.id, 'GET', '/api/inventory?since=0&limit=1');
  assert.equal(inv.data.items.length, 1);
  assert.equal(inv.data.items[0]!.hash, r.hash);
  assert.equal(inv.data.more, true);
  const next = await a.cell.call<InventoryPage>(b.id, 'GET', `/api/inventory?since=${inv.data.next}`);
  assert.deepEqual(next.data.items.map((i) => i.hash), [second.hash]);
  assert.equal(next.data.more, false);
  const none = await a.cell.call<InventoryPage>(b.id, 'GET', `/api/inventory?since=${next.data.next}`);
  assert.deepEqual(none.data.items, []);
  // Putting the same object again is fine and stores nothing new.
  const again = await put(a, b, data);
  assert.equal(again.data.stored, true);
  assert.equal(objectTotals(b.cell.home.db).objects, 2);
});

test('an oversized upload gets 413 and nothing is written', async (t) => {
  const [a, b] = await pairedTwo(t);
  const big = randomBytes(MAX_OBJECT_BYTES + 1);
  const before = chunkFiles(b);
  // Declared length over the limit: refused before reading.
  await assert.rejects(put(a, b, big), (e: unknown) => e instanceof GroveError && e.detail?.status === 413);
  // No declared length (streamed): refused once the limit is passed.
  const { res } = await rawSigned(a, b, 'PUT', `/api/objects/${sha(big)}`, {
    body: big, chunked: true,
  });
  assert.equal(res.status, 413);
  assert.deepEqual(chunkFiles(b), before);
  assert.equal(objectTotals(b.cell.home.db).objects, 0);
});

test('a hash that is not 64 lowercase hex gets 400 and never reaches the filesystem', async (t) => {
  const [a, b] = await pairedTwo(t);
  const data = Buffer.from('hello');
  for (const bad of ['ABC', sha(data).toUpperCase(), '..%2F..%2Fconfig.json', `${sha(data)}0`, '%00']) {
    const g = await rawSigned(a, b, 'GET', `/api/objects/${bad}`);
    assert.equal(g.res.status, 400, `GET ${bad}`);
    assert.equal(((await g.res.json()) as { error: string }).error, 'BAD_INPUT');
    const p = await rawSigned(a, b, 'PUT', `/api/objects/${bad}`, { body: data });
    assert.equal(p.res.status, 400, `PUT ${bad}`);
  }
  assert.deepEqual(chunkFiles(b), []);
  // Bad kind and bad inventory parameters.
  assert.equal((await rawSigned(a, b, 'PUT', `/api/objects/${sha(data)}?kind=secret`, { body: data })).res.status, 400);
  for (const q of ['since=-1', 'since=abc', 'limit=0', 'limit=100000', 'since=1e3']) {
    assert.equal((await rawSigned(a, b, 'GET', `/api/inventory?${q}`)).res.status, 400, q);
  }
  assert.deepEqual(chunkFiles(b), []);
});

test('a body that does not match the object hash stores nothing', async (t) => {
  const [a, b] = await pairedTwo(t);
  const data = randomBytes(5000);
  const other = randomBytes(5000);
  // Signed honestly (body hash = hash of what is sent) but named as another object.
  const r1 = await rawSigned(a, b, 'PUT', `/api/objects/${sha(other)}`, { body: data });
  assert.equal(r1.res.status, 400);
  // Signed hash claims the name, the bytes are something else: caught while streaming.
  const r2 = await rawSigned(a, b, 'PUT', `/api/objects/${sha(other)}`, { body: data, bodySha256: sha(other) });
  assert.equal(r2.res.status, 400);
  assert.deepEqual(chunkFiles(b), []);
  assert.equal(objectTotals(b.cell.home.db).objects, 0);
});

test('uploads beyond the owner quota get 507 and store nothing; per-owner quotas apply', async (t) => {
  const [a, b] = await pairedTwo(t, { quota: { default_bytes: 1000, per_owner: {} } });
  const first = await put(a, b, randomBytes(600));
  assert.equal(first.status, 200);
  const before = chunkFiles(b);
  const over = randomBytes(600);
  await assert.rejects(put(a, b, over), (e: unknown) => e instanceof GroveError && e.detail?.status === 507 && e.detail?.code === 'QUOTA_EXCEEDED');
  // Streamed without a declared length: refused once past the remaining quota.
  const { res } = await rawSigned(a, b, 'PUT', `/api/objects/${sha(over)}`, { body: over, chunked: true });
  assert.equal(res.status, 507);
  assert.deepEqual(chunkFiles(b), before);
  // An object already held counts once: re-sending it is not refused.
  assert.equal((await put(a, b, (await b.cell.home.objects.get(first.hash)))).status, 200);
  // A larger quota for A in particular.
  const cfgPath = homePaths(b.root).config;
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  cfg.quota.per_owner = { [a.id]: 5000 };
  writeFileSync(cfgPath, JSON.stringify(cfg));
  await restartCell(b);
  assert.equal((await put(a, b, over)).status, 200);
});

test('missing objects get 404; a corrupt local object gets 500 without internals', async (t) => {
  const [a, b] = await pairedTwo(t);
  const missing = sha(Buffer.from('nothing'));
  await assert.rejects(a.cell.download(b.id, `/api/objects/${missing}`, async () => 0), (e: unknown) => e instanceof GroveError && e.detail?.status === 404);
  const r = await put(a, b, randomBytes(2000));
  const path = b.cell.home.objects.pathOf(r.hash);
  const bytes = readFileSync(path);
  bytes[0]! ^= 0xff;
  writeFileSync(path, bytes);
  const corrupt = once(b.cell.events, 'corrupt');
  const { res } = await rawSigned(a, b, 'GET', `/api/objects/${r.hash}`);
  assert.equal(res.status, 500);
  const body = (await res.json()) as { error: string; message: string };
  assert.equal(body.error, 'CORRUPT');
  assert.doesNotMatch(body.message, /\/|chunks|tmp/);
  assert.deepEqual(await corrupt, [r.hash]);
});

test('GET /api/bench sends 256 KiB of random bytes', async (t) => {
  const [a, b] = await pairedTwo(t);
  const r1 = await a.cell.call<Buffer>(b.id, 'GET', '/api/bench', { maxBytes: BENCH_BYTES });
  const r2 = await a.cell.call<Buffer>(b.id, 'GET', '/api/bench', { maxBytes: BENCH_BYTES });
  assert.equal(r1.data.length, BENCH_BYTES);
  assert.notDeepEqual(r1.data, r2.data);
});

test('stop() lets an upload in flight finish before closing the database', async (t) => {
  const [a, b] = await pairedTwo(t);
  const data = randomBytes(300_000);
  const hash = sha(data);
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  let sentFirst!: () => void;
  const firstSent = new Promise<void>((r) => { sentFirst = r; });
  async function* slowBody() {
    yield data.subarray(0, 100_000);
    sentFirst();
    await gate;
    yield data.subarray(100_000);
  }
  const path = `/api/objects/${hash}`;
  const signed = signRequest(a.cell.home.keys.identity.privateKey, { method: 'PUT', path }, { from: a.id, to: b.id, ts: a.clock.now(), nonce: newNonce(), bodySha256: hash });
  const upload = tlsFetch(new URL(path, b.url), {
    method: 'PUT', headers: { ...toHttpHeaders(signed), 'content-type': 'application/octet-stream' }, body: slowBody(),
  });
  await firstSent;
  await waitFor(() => chunkFiles(b).some((f) => f.includes('.tmp-')), 'the upload to reach the store');
  let stopped = false;
  const stopping = b.cell.stop().then(() => { stopped = true; });
  // The server no longer accepts new connections, but the upload in flight goes on.
  await waitFor(async () => (await tlsFetch(new URL('/api/health', b.url)).catch(() => undefined)) === undefined, 'listener closed');
  assert.equal(stopped, false, 'stop waits for the upload');
  release();
  const res = await upload;
  assert.equal(res.status, 200);
  await stopping;
  assert.deepEqual(chunkFiles(b), [`${hash.slice(0, 2)}/${hash}`]);
  await restartCell(b);
  assert.equal(getObject(b.cell.home.db, hash)?.owner, a.id, 'recorded before the database closed');
});
