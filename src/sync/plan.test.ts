import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import fc from 'fast-check';
import { openDb, type DB } from '../store/db.js';
import { recordObjects, recordRemoved, type ObjectKind } from '../store/catalog.js';
import { insertVersion, listVersions, missingOwnObjects, versionPages } from '../ingest/files.js';
import { planFromCatalog, atRiskNow, saveAtRisk } from './plan.js';
import { sampleHeldBy } from './placements.js';
import { countCopies, planPlacement, type Holder, type PeerInfo } from './placement.js';
import { fileCopies, peerView } from './copies.js';
import { tempDir } from '../../test/helpers/ingest.js';

// The queries that feed the placement policy, `grove ls` and `grove status`, checked against
// the definitions they replace (whole tables read into memory).

const NOW = 1_700_000_000_000;
const GRACE = 3_600_000;
const SELF = 's'.repeat(52);
const OTHER = 'o'.repeat(52);
const PEERS = ['p0', 'p1', 'p2'].map((p) => p.padEnd(52, 'x'));
const h = (n: number) => n.toString(16).padStart(64, '0');

interface Catalog {
  objects: { n: number; kind: ObjectKind; own: boolean; present: boolean; size: number }[];
  placements: { n: number; peer: number; state: 'confirmed' | 'releasing' | 'pinned' }[];
  peers: PeerInfo[];
}

const arbCatalog: fc.Arbitrary<Catalog> = fc.record({
  objects: fc.uniqueArray(fc.record({
    n: fc.integer({ min: 1, max: 40 }),
    kind: fc.constantFrom<ObjectKind>('chunk', 'chunk', 'manifest', 'index'),
    own: fc.boolean(),
    present: fc.boolean(),
    size: fc.integer({ min: 0, max: 100 }),
  }), { selector: (o) => o.n, maxLength: 30 }),
  placements: fc.uniqueArray(fc.record({
    n: fc.integer({ min: 1, max: 45 }), peer: fc.integer({ min: 0, max: 2 }), state: fc.constantFrom<'confirmed' | 'releasing' | 'pinned'>('confirmed', 'confirmed', 'releasing', 'pinned'),
  }), { selector: (p) => `${p.n}/${p.peer}`, maxLength: 60 }),
  peers: fc.tuple(...PEERS.map((id) => fc.record({
    id: fc.constant(id), preferred: fc.boolean(), online: fc.boolean(), score: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }),
    lastSeen: fc.option(fc.integer({ min: NOW - 2 * GRACE, max: NOW }), { nil: undefined }),
  }))).map((ps) => ps.map((p) => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined)) as unknown as PeerInfo)),
});

function load(db: DB, c: Catalog): void {
  db.exec('DELETE FROM objects; DELETE FROM object_refs; DELETE FROM placements; DELETE FROM files; DELETE FROM file_chunks');
  db.transaction(() => {
    recordObjects(db, c.objects.map((o) => ({ hash: h(o.n), size: o.size, kind: o.kind, owner: o.own ? SELF : OTHER })), NOW);
    for (const o of c.objects) if (!o.present) recordRemoved(db, h(o.n));
    const ins = db.prepare('INSERT INTO placements(hash, peer_id, state, updated_at) VALUES (?, ?, ?, ?)');
    for (const p of c.placements) ins.run(h(p.n), PEERS[p.peer], p.state, NOW);
  })();
}

/** What the policy got before: every present own chunk and manifest, every record of them. */
function wholeInput(c: Catalog) {
  const own = c.objects.filter((o) => o.own && o.present && (o.kind === 'chunk' || o.kind === 'manifest'));
  const ownSet = new Set(own.map((o) => o.n));
  const holders: Record<string, Holder[]> = {};
  for (const p of c.placements) {
    if (!ownSet.has(p.n)) continue;
    (holders[h(p.n)] ??= []).push({ peer: PEERS[p.peer]!, state: p.state === 'pinned' ? 'confirmed' : p.state });
  }
  const pinned = new Set(c.placements.filter((p) => p.state === 'pinned').map((p) => `${h(p.n)}/${PEERS[p.peer]}`));
  return { objects: own.map((o) => ({ hash: h(o.n), size: o.size })), holders, pinned };
}

async function freshDb(t: Parameters<typeof tempDir>[0]): Promise<DB> {
  const db = openDb(join(await tempDir(t), 'placement.db'));
  t.after(() => db.close());
  return db;
}

test('the plan read a page at a time from the catalog is the plan of the whole catalog', async (t) => {
  const db = await freshDb(t);
  await fc.assert(fc.asyncProperty(arbCatalog, fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 3 }), async (c, pageSize, factor) => {
    load(db, c);
    const whole = wholeInput(c);
    const want = planPlacement({ factor, now: NOW, offlineGraceMs: GRACE, peers: c.peers, objects: whole.objects, holders: whole.holders });
    want.release = want.release.filter((r) => !whole.pinned.has(`${r.hash}/${r.peer}`));
    const { plan } = await planFromCatalog(db, SELF, { factor, now: NOW, offlineGraceMs: GRACE, peers: c.peers }, { pageSize, maxObjects: Infinity });
    const { atRiskCount, candidates: _, ...got } = plan;
    assert.deepEqual(got, want);
    assert.equal(atRiskCount, want.atRisk.length);
  }), { numRuns: 150 });
});

test('a storage challenge samples only objects the peer holds for us, all of them when few, never the same twice', async (t) => {
  const db = await freshDb(t);
  fc.assert(fc.property(arbCatalog, fc.integer({ min: 0, max: 2 }), fc.integer({ min: 1, max: 6 }), fc.integer(), (c, peer, n, seed) => {
    load(db, c);
    const own = new Set(c.objects.filter((o) => o.own && o.present).map((o) => o.n));
    const held = c.placements.filter((p) => p.peer === peer && p.state !== 'releasing' && own.has(p.n)).map((p) => h(p.n)).sort();
    let x = seed;
    const random = () => ((x = (x * 1103515245 + 12345) >>> 0) % 1000) / 1000;
    const got = sampleHeldBy(db, PEERS[peer]!, SELF, n, random);
    assert.equal(new Set(got).size, got.length, 'distinct');
    for (const g of got) assert.ok(held.includes(g), 'held by that peer, ours, present');
    if (held.length <= n) assert.deepEqual([...got].sort(), held);
    else assert.ok(got.length >= 1 && got.length <= n);
  }), { numRuns: 200 });
});

test('a challenge sample is one index seek per pick, not a scan of the placements', async (t) => {
  const db = await freshDb(t);
  const detail = (db.prepare(`EXPLAIN QUERY PLAN SELECT p.hash FROM placements p JOIN objects o ON o.hash = p.hash
    WHERE p.peer_id = ? AND p.state IN ('confirmed', 'pinned') AND o.owner = ? AND o.present = 1 AND p.rowid >= ? ORDER BY p.rowid LIMIT 1`)
    .all('x', 'y', 1) as { detail: string }[]).map((r) => r.detail).join(' / ');
  assert.match(detail, /SEARCH p USING INDEX placements_peer \(peer_id=\? AND rowid>\?\)/);
});

test('grove ls copies: one file\'s records give what the whole table gave', async (t) => {
  const db = await freshDb(t);
  fc.assert(fc.property(arbCatalog, fc.uniqueArray(fc.integer({ min: 1, max: 45 }), { minLength: 1, maxLength: 6 }), (c, members) => {
    load(db, c);
    const [manifest, ...chunks] = members.map(h);
    insertVersion(db, { path: '/f', name: 'f', version: 1, size: 1, file_hash: h(99), manifest_hash: manifest!, chunks: chunks.length, added_at: NOW },
      chunks.map((hash, index) => ({ hash, size: 1, index })));
    const cc = { db, selfId: SELF, now: NOW, offlineGraceMs: GRACE, factor: 2, peers: c.peers.map((p) => ({ id: p.id, preferred: p.preferred })), health: () => undefined };
    const view = peerView(cc);
    const copiesOf = fileCopies(cc);
    // The definition: every record of a present own object (pinned as confirmed), over the file's objects.
    const ownPresent = new Set(c.objects.filter((o) => o.own && o.present).map((o) => h(o.n)));
    const holders: Record<string, Holder[]> = {};
    for (const p of c.placements) {
      if (!ownPresent.has(h(p.n))) continue;
      (holders[h(p.n)] ??= []).push({ peer: PEERS[p.peer]!, state: p.state === 'pinned' ? 'confirmed' : p.state });
    }
    const hashes = [manifest!, ...chunks];
    const got = copiesOf(manifest!);
    assert.equal(got.copies, countCopies(hashes, { ...view, holders }));
    assert.deepEqual(got.holders, [...new Set(hashes.flatMap((x) => (holders[x] ?? []).filter((r) => r.state === 'confirmed').map((r) => r.peer)))].sort());
  }), { numRuns: 150 });
});

test('grove status at risk: the saved count plus own chunks and manifests recorded since, nothing else', async (t) => {
  const db = await freshDb(t);
  const rec = (n: number, kind: ObjectKind, owner = SELF) => db.transaction(() => recordObjects(db, [{ hash: h(n), size: 1, kind, owner }], NOW))();
  rec(1, 'chunk');
  assert.equal(atRiskNow(db, SELF).count, 1, 'never counted: every own object since the start');
  assert.equal(atRiskNow(db, SELF).countedAt, null);
  saveAtRisk(db, 7, 1, NOW);
  assert.deepEqual(atRiskNow(db, SELF), { count: 7, countedAt: NOW });
  rec(2, 'chunk');
  rec(3, 'manifest');
  rec(4, 'index');
  rec(5, 'chunk', OTHER);
  rec(6, 'chunk');
  db.transaction(() => recordRemoved(db, h(6)))();
  assert.equal(atRiskNow(db, SELF).count, 9);
});

test('missing own objects: those our versions name that are not present, at most the limit', async (t) => {
  const db = await freshDb(t);
  fc.assert(fc.property(arbCatalog, fc.array(fc.uniqueArray(fc.integer({ min: 1, max: 45 }), { maxLength: 5 }), { maxLength: 4 }), fc.integer({ min: 1, max: 30 }),
    (c, files, limit) => {
      load(db, c);
      // Each file: its manifest (one of 41-45, each its own) and its chunks.
      files.forEach((chunks, i) => {
        insertVersion(db, { path: `/f${i}`, name: `f${i}`, version: 1, size: 1, file_hash: h(99), manifest_hash: h(41 + i), chunks: chunks.length, added_at: NOW },
          chunks.map((n, index) => ({ hash: h(n), size: 1, index })));
      });
      const present = new Set(c.objects.filter((o) => o.present).map((o) => h(o.n)));
      const named = [...files.flat(), ...files.map((_, i) => 41 + i)];
      const want = [...new Set(named.map(h))].filter((x) => !present.has(x)).sort();
      const got = missingOwnObjects(db, limit);
      assert.equal(new Set(got).size, got.length);
      assert.equal(got.length, Math.min(limit, want.length));
      for (const g of got) assert.ok(want.includes(g));
    }), { numRuns: 150 });
});

test('versions read a page at a time are listVersions, in its order', async (t) => {
  const db = await freshDb(t);
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom('/a', '/b', '/b/c', '/d e', '/é'), fc.integer({ min: 1, max: 4 })), { maxLength: 20 }), fc.integer({ min: 1, max: 5 }),
    (versions, pageSize) => {
      db.exec('DELETE FROM files; DELETE FROM file_chunks');
      const seen = new Set<string>();
      for (const [path, version] of versions) {
        if (seen.has(`${path}/${version}`)) continue;
        seen.add(`${path}/${version}`);
        insertVersion(db, { path, name: path.slice(1), version, size: 1, file_hash: h(1), manifest_hash: h(seen.size), chunks: 0, added_at: NOW }, []);
      }
      for (const all of [false, true]) {
        assert.deepEqual([...versionPages(db, { versions: all, pageSize })].flat(), listVersions(db, { versions: all }));
      }
    }), { numRuns: 150 });
});

test('a round whose inputs did not move since a plan with nothing to do reads no catalog, and one that did plans again', async (t) => {
  const db = await freshDb(t);
  const peers: PeerInfo[] = PEERS.map((id) => ({ id, preferred: false, online: true, lastSeen: NOW, score: 1 }));
  load(db, {
    objects: [1, 2, 3].map((n) => ({ n, kind: 'chunk' as const, own: true, present: true, size: 10 })),
    placements: [1, 2, 3].flatMap((n) => [{ n, peer: 0, state: 'confirmed' as const }, { n, peer: 1, state: 'confirmed' as const }]),
    peers,
  });
  const ctx = { factor: 2, now: NOW, offlineGraceMs: GRACE, peers };
  let pages = 0;
  const plan = async (c = ctx) => (await planFromCatalog(db, SELF, c, { pageSize: 1, pause: async () => { pages++; } })).plan;
  assert.equal((await plan()).candidates, 0);
  assert.ok(pages > 0, 'the first plan reads the catalog');
  pages = 0;
  assert.deepEqual(await plan(), { push: [], release: [], atRisk: [], atRiskCount: 0, candidates: 0 });
  assert.equal(pages, 0, 'nothing moved: nothing read');
  // A holder past its grace period: its copies stop counting.
  const gone = { ...ctx, peers: peers.map((p) => (p.id === PEERS[1] ? { ...p, online: false, lastSeen: NOW - 2 * GRACE } : p)) };
  assert.equal((await plan(gone)).atRiskCount, 3);
  assert.equal((await plan()).candidates, 0);
  // A dropped record, a new object, another factor: each is seen.
  db.prepare('DELETE FROM placements WHERE hash = ? AND peer_id = ?').run(h(1), PEERS[0]);
  assert.deepEqual((await plan()).push, [{ hash: h(1), peer: PEERS[0] }]);
  db.prepare('INSERT INTO placements(hash, peer_id, state, updated_at) VALUES (?, ?, ?, ?)').run(h(1), PEERS[0], 'confirmed', NOW);
  assert.equal((await plan()).candidates, 0);
  db.transaction(() => recordObjects(db, [{ hash: h(4), size: 1, kind: 'manifest', owner: SELF }], NOW))();
  assert.equal((await plan()).atRiskCount, 1);
  db.transaction(() => recordRemoved(db, h(4)))();
  assert.equal((await plan()).candidates, 0);
  assert.equal((await plan({ ...ctx, factor: 3 })).atRiskCount, 3);
});
