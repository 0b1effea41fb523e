import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { startCells, pairCells } from '../helpers/cells.js';
import { tempDir } from '../helpers/ingest.js';
import { makeInstallation, ROOT } from '../helpers/releases.js';
import { generateReleaseKey, loadReleaseKey } from '../../src/update/release-key.js';
import { buildBundle } from '../../src/update/pack.js';
import { updatePaths, bundlePath } from '../../src/update/layout.js';
import { GroveError } from '../../src/errors.js';
import { readFileSync } from 'node:fs';

// The update exchange between two real cells on loopback (docs/updates.md "Peer to peer"):
// an untrusted build is not even downloaded, a bundle whose bytes do not match what the peer
// signed is refused and nothing is kept, a good one becomes an offer from that peer; the
// bundle endpoint refuses malformed and unknown hashes.

const RUNNING = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const [MAJ, MIN] = RUNNING.split('.').map(Number) as [number, number];

test('the sync exchange fetches only trusted, intact builds', async (t) => {
  const dir = await tempDir(t, 'grove-upeer-');
  const pub = generateReleaseKey(join(dir, 'release.key'));
  const tree = await makeInstallation(join(dir, 'next'), `${MAJ}.${MIN + 1}.0`);
  const m = await buildBundle({ from: tree, key: loadReleaseKey(join(dir, 'release.key')), out: join(dir, 'next.bundle'), now: Date.now(), ttlMs: 86_400_000 });
  const update = (keys: string[]) => ({ update: { trusted_keys: keys, max_bundle_bytes: 512 * 1024 ** 2 } });
  const [a, b, c] = await startCells(t, 3, { config: (i) => update(i === 2 ? [] : [pub]) });
  await a!.cell.updates.importBundle(join(dir, 'next.bundle'));
  await pairCells(a!, b!);
  await pairCells(a!, c!);
  const route = { peerId: a!.id, url: a!.url };

  // c does not trust the key: nothing is downloaded.
  assert.equal(await c!.cell.updates.exchange(route), undefined);
  assert.equal(existsSync(updatePaths(c!.root).bundles), false);

  // a's copy is damaged after it was verified: b sees bytes that do not match the signed hash.
  const held = bundlePath(updatePaths(a!.root), m.build_hash);
  const fh = await open(held, 'r+');
  const one = Buffer.alloc(1);
  const at = (await fh.stat()).size - 10;
  await fh.read(one, 0, 1, at);
  await fh.write(Buffer.from([one[0]! ^ 0xff]), 0, 1, at);
  await assert.rejects(b!.cell.updates.exchange(route), (e: unknown) => e instanceof GroveError && /does not match/.test(e.message));
  assert.deepEqual(readdirSync(updatePaths(b!.root).bundles), [], 'nothing kept');
  assert.deepEqual(b!.cell.updates.list().offers, []);
  await fh.write(one, 0, 1, at);
  await fh.close();

  // Intact: an offer from a.
  const offer = await b!.cell.updates.exchange(route);
  assert.deepEqual(offer, { version: m.version, build_hash: m.build_hash, from: a!.id, signed_by: pub, state: 'offered' });
  assert.deepEqual(readdirSync(updatePaths(b!.root).bundles), [`${m.build_hash}.bundle`]);
  // A second round fetches nothing new.
  assert.equal(await b!.cell.updates.exchange(route), undefined);

  // The endpoint itself.
  await assert.rejects(b!.cell.client.call(a!.url, a!.id, 'GET', '/api/build/bundle?hash=nothex'), (e: unknown) => e instanceof GroveError && e.detail?.status === 400);
  await assert.rejects(b!.cell.client.call(a!.url, a!.id, 'GET', `/api/build/bundle?hash=${'0'.repeat(64)}`), (e: unknown) => e instanceof GroveError && e.detail?.status === 404);
  const info = await b!.cell.client.call<{ running: { version: string }; available: { build_hash: string }[] }>(a!.url, a!.id, 'GET', '/api/build');
  assert.equal(info.data.running.version, RUNNING);
  assert.deepEqual(info.data.available.map((x) => x.build_hash), [m.build_hash]);
});
