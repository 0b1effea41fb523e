// Versioned schema for placement.db. Append new migrations; never edit a released one.
// `PRAGMA user_version` records how many have run.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'core',
    sql: `
      -- Objects present in chunks/ (ours and those held for peers). seq orders the inventory.
      CREATE TABLE objects (
        hash TEXT PRIMARY KEY,
        size INTEGER NOT NULL,             -- stored bytes
        kind TEXT NOT NULL,                -- chunk | manifest | index | blob
        owner TEXT NOT NULL,               -- cell ID of the owner
        seq INTEGER NOT NULL,              -- bumped on every change (add or removal)
        present INTEGER NOT NULL DEFAULT 1, -- 0 = removed (kept as a tombstone for inventory)
        added_at INTEGER NOT NULL
      );
      CREATE INDEX objects_seq ON objects(seq);
      CREATE INDEX objects_owner ON objects(owner);

      -- Versions of this cell's own files. path is the absolute source path.
      CREATE TABLE files (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        size INTEGER NOT NULL,
        file_hash TEXT NOT NULL,
        manifest_hash TEXT NOT NULL,
        chunks INTEGER NOT NULL,
        added_at INTEGER NOT NULL,
        UNIQUE (path, version)
      );
      CREATE INDEX files_name ON files(name);
      CREATE INDEX files_manifest ON files(manifest_hash);

      -- ChunkInfo per manifest (plaintext size).
      CREATE TABLE file_chunks (
        manifest_hash TEXT NOT NULL,
        idx INTEGER NOT NULL,
        hash TEXT NOT NULL,
        size INTEGER NOT NULL,
        PRIMARY KEY (manifest_hash, idx)
      );
      CREATE INDEX file_chunks_hash ON file_chunks(hash);

      CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      INSERT INTO meta(key, value) VALUES ('object_seq', '0');
    `,
  },
  {
    version: 2,
    name: 'peers',
    sql: `
      -- Paired cells (identities). x25519 is the hex raw public key from their signed card.
      CREATE TABLE peers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        x25519 TEXT NOT NULL,
        preferred INTEGER NOT NULL DEFAULT 0,
        paired_at INTEGER NOT NULL,
        build TEXT
      );
      -- Several routes per peer: direct URLs, mDNS-found addresses, relay routes.
      CREATE TABLE routes (
        peer_id TEXT NOT NULL REFERENCES peers(id) ON DELETE CASCADE,
        url TEXT NOT NULL,
        kind TEXT NOT NULL,
        added_at INTEGER NOT NULL,
        PRIMARY KEY (peer_id, url)
      );
      -- Replay protection for signed requests (DESIGN §3), kept past the ±5 min window.
      CREATE TABLE seen_nonces (
        cell_id TEXT NOT NULL,
        nonce TEXT NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (cell_id, nonce)
      );
      CREATE INDEX seen_nonces_ts ON seen_nonces(ts);
      -- Invite tokens already spent (single use), kept until they expire.
      CREATE TABLE used_invites (
        token_id TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 30,
    name: 'replication',
    sql: `
      -- Where copies of this cell's own objects live, as confirmed by the holders (DESIGN §4).
      -- state: confirmed (holder signed that it stored it) | releasing (asked to drop it).
      CREATE TABLE placements (
        hash TEXT NOT NULL,
        peer_id TEXT NOT NULL,
        state TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (hash, peer_id)
      );
      CREATE INDEX placements_peer ON placements(peer_id);
      -- Per-peer sync progress: how far we have read its inventory.
      CREATE TABLE peer_sync (
        peer_id TEXT PRIMARY KEY,
        inventory_seq INTEGER NOT NULL DEFAULT 0,
        last_round_at INTEGER,
        last_error TEXT
      );
      -- Latest recovery index of each owner we hold objects for (so a rebuilt owner finds it).
      CREATE TABLE index_pointers (
        owner TEXT PRIMARY KEY,
        hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
  },
];
