import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../store/migrations.js';
import { normalizeRouteUrl, routeKindOf } from './registry.js';

// Every route is TLS: legacy http:// routes (old invites, cards, databases) mean TLS on the
// same host and port; relay routes carry the callee's cell ID.

const ID = 'a'.repeat(52);

test('normalizeRouteUrl: https and relay routes, http upgraded in place, nothing else', () => {
  assert.equal(normalizeRouteUrl('http://10.0.0.1:7420/'), 'https://10.0.0.1:7420');
  assert.equal(normalizeRouteUrl('http://nas.lan'), 'https://nas.lan:80');
  assert.equal(normalizeRouteUrl('https://nas.lan:7420'), 'https://nas.lan:7420');
  assert.equal(normalizeRouteUrl(`relay+ws://Relay.Example:7430/${ID}`), `relay+ws://relay.example:7430/${ID}`);
  assert.equal(normalizeRouteUrl(`relay+wss://r:443/${ID}`), `relay+wss://r:443/${ID}`);
  for (const bad of ['ws://r:1', `relay+ws://r:1/${ID}x`, 'relay+ws://r:1/', `relay+ws://r:1/${ID}?x=1`, 'ftp://h:1', 'https://u:p@h:1']) {
    assert.throws(() => normalizeRouteUrl(bad), /route|URL|credentials|query/, bad);
  }
  assert.equal(routeKindOf(`relay+ws://r:1/${ID}`), 'relay');
  assert.equal(routeKindOf('https://h:1', 'relay'), 'direct');
  assert.equal(routeKindOf('https://h:1', 'mdns'), 'mdns');
});

test('migration 43 rewrites stored http routes to https on the same host and port', () => {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE routes (peer_id TEXT NOT NULL, url TEXT NOT NULL, kind TEXT NOT NULL, added_at INTEGER NOT NULL, PRIMARY KEY (peer_id, url))');
  const add = db.prepare("INSERT INTO routes VALUES (?, ?, 'direct', 1)");
  add.run('p', 'http://10.0.0.1:7420');
  add.run('p', 'http://nas.lan');
  add.run('p', 'http://[fd00::1]');
  add.run('q', 'http://h:1');
  add.run('q', 'https://h:1'); // already there: the http duplicate goes
  add.run('q', `relay+ws://r:1/${ID}`);
  db.exec(MIGRATIONS.find((m) => m.version === 43)!.sql);
  const urls = (db.prepare('SELECT peer_id, url FROM routes ORDER BY peer_id, url').all() as { peer_id: string; url: string }[]).map((r) => `${r.peer_id} ${r.url}`);
  assert.deepEqual(urls, ['p https://10.0.0.1:7420', 'p https://[fd00::1]:80', 'p https://nas.lan:80', 'q https://h:1', `q relay+ws://r:1/${ID}`]);
  db.close();
});
