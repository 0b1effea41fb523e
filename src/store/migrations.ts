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
      -- Replay protection for signed requests (docs/design.md §3), kept past the ±5 min window.
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
      -- Where copies of this cell's own objects live, as confirmed by the holders (docs/design.md §4).
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
  {
    version: 31,
    name: 'owner-usage',
    sql: `
      -- Bytes held per owner, kept by triggers, so a quota check on every PUT costs one row
      -- read instead of summing all of that owner's objects.
      CREATE TABLE owner_usage (
        owner TEXT PRIMARY KEY,
        bytes INTEGER NOT NULL
      );
      INSERT INTO owner_usage(owner, bytes)
        SELECT owner, SUM(size) FROM objects WHERE present = 1 GROUP BY owner;
      CREATE TRIGGER objects_usage_insert AFTER INSERT ON objects WHEN NEW.present = 1 BEGIN
        INSERT INTO owner_usage(owner, bytes) VALUES (NEW.owner, NEW.size)
          ON CONFLICT(owner) DO UPDATE SET bytes = bytes + excluded.bytes;
      END;
      CREATE TRIGGER objects_usage_update AFTER UPDATE OF present, size, owner ON objects BEGIN
        UPDATE owner_usage SET bytes = bytes - OLD.size WHERE owner = OLD.owner AND OLD.present = 1;
        INSERT INTO owner_usage(owner, bytes) SELECT NEW.owner, NEW.size WHERE NEW.present = 1
          ON CONFLICT(owner) DO UPDATE SET bytes = bytes + excluded.bytes;
      END;
      CREATE TRIGGER objects_usage_delete AFTER DELETE ON objects WHEN OLD.present = 1 BEGIN
        UPDATE owner_usage SET bytes = bytes - OLD.size WHERE owner = OLD.owner;
      END;
    `,
  },
  {
    version: 32,
    name: 'inventory-by-owner',
    sql: `
      -- A peer's inventory request lists only its own objects (src/api/inventory.ts).
      CREATE INDEX objects_owner_seq ON objects(owner, seq);
    `,
  },
  {
    version: 40,
    name: 'sharing',
    sql: `
      -- Files this cell shares: a share covers the path's latest version and every
      -- newer one, until \`grove unshare\` revokes it.
      CREATE TABLE shares (
        path TEXT NOT NULL,
        recipient TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER,
        PRIMARY KEY (path, recipient)
      );
      -- Grants this cell signed, one per (manifest, recipient), and how far delivery got.
      CREATE TABLE sent_grants (
        manifest_hash TEXT NOT NULL,
        recipient TEXT NOT NULL,
        path TEXT NOT NULL,
        grant_json TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        grant_delivered_at INTEGER,    -- the recipient accepted the grant (or already held it)
        objects_delivered_at INTEGER,  -- and was sent the manifest and every chunk
        revoked_at INTEGER,            -- grove unshare: no longer delivered
        unshare_delivered_at INTEGER,  -- the recipient answered our unshare request
        last_error TEXT,
        PRIMARY KEY (manifest_hash, recipient)
      );
      CREATE INDEX sent_grants_recipient ON sent_grants(recipient);
      -- Grants other cells gave this cell: the Feed. A dropped grant stays as a tombstone, so
      -- replaying it changes nothing.
      CREATE TABLE received_grants (
        manifest_hash TEXT NOT NULL,
        creator TEXT NOT NULL,
        grant_json TEXT NOT NULL,
        filename TEXT NOT NULL,
        file_type TEXT NOT NULL,
        total_size INTEGER NOT NULL,
        granted_at INTEGER NOT NULL,
        received_at INTEGER NOT NULL,
        dropped_at INTEGER,
        indexed INTEGER NOT NULL DEFAULT 0, -- 1: chunks listed in grant_objects; -1: manifest unusable
        PRIMARY KEY (manifest_hash, creator)
      );
      CREATE INDEX received_grants_filename ON received_grants(filename);
      -- Objects a held grant needs (its manifest, idx -1, and its chunks): never released.
      CREATE TABLE grant_objects (
        manifest_hash TEXT NOT NULL,
        creator TEXT NOT NULL,
        idx INTEGER NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (manifest_hash, creator, idx)
      );
      CREATE INDEX grant_objects_hash ON grant_objects(hash);
    `,
  },
  {
    version: 41,
    name: 'chat',
    sql: `
      -- Encrypted chat. body is the text sealed under the local chat key (src/chat/local.ts):
      -- placement.db is world-readable, so no plaintext lives here. envelope is the sealed message
      -- for the peer, kept until it is delivered.
      CREATE TABLE chat_messages (
        peer TEXT NOT NULL,
        direction TEXT NOT NULL,       -- out (we sent it) | in (we received it)
        seq INTEGER NOT NULL,          -- the sender's sequence number in this conversation
        id TEXT NOT NULL,
        sent_at INTEGER NOT NULL,
        stored_at INTEGER NOT NULL,
        delivered_at INTEGER,          -- out: accepted by the peer; in: accepted by us
        failed TEXT,                   -- out: refused by the peer for good (why)
        envelope TEXT,
        body BLOB NOT NULL,
        PRIMARY KEY (peer, direction, seq),
        UNIQUE (peer, direction, id)
      );
      CREATE INDEX chat_undelivered ON chat_messages(peer, seq) WHERE direction = 'out' AND delivered_at IS NULL AND failed IS NULL;
    `,
  },
  {
    version: 42,
    name: 'object-refs',
    sql: `
      -- Who holds a reference to each object kept here (docs/design.md §3 "Holders"): one row per
      -- owner and object. Two owners can store the same bytes (a share recipient has the
      -- sharer's ciphertext); each gets its own reference, quota charge and inventory entry, and
      -- a release drops only the caller's. The object goes when no reference is left.
      -- seq comes from the same counter as objects.seq: a peer's inventory is its references.
      CREATE TABLE object_refs (
        hash TEXT NOT NULL,
        owner TEXT NOT NULL,
        size INTEGER NOT NULL,
        kind TEXT NOT NULL,
        seq INTEGER NOT NULL,
        present INTEGER NOT NULL DEFAULT 1,
        added_at INTEGER NOT NULL,
        PRIMARY KEY (hash, owner)
      );
      CREATE INDEX object_refs_owner_seq ON object_refs(owner, seq);
      INSERT INTO object_refs(hash, owner, size, kind, seq, present, added_at)
        SELECT hash, owner, size, kind, seq, present, added_at FROM objects;
      -- Usage per owner now counts references (the quota charges each owner for what it stored).
      DROP TRIGGER objects_usage_insert;
      DROP TRIGGER objects_usage_update;
      DROP TRIGGER objects_usage_delete;
      DELETE FROM owner_usage;
      INSERT INTO owner_usage(owner, bytes)
        SELECT owner, SUM(size) FROM object_refs WHERE present = 1 GROUP BY owner;
      CREATE TRIGGER object_refs_usage_insert AFTER INSERT ON object_refs WHEN NEW.present = 1 BEGIN
        INSERT INTO owner_usage(owner, bytes) VALUES (NEW.owner, NEW.size)
          ON CONFLICT(owner) DO UPDATE SET bytes = bytes + excluded.bytes;
      END;
      CREATE TRIGGER object_refs_usage_update AFTER UPDATE OF present, size ON object_refs BEGIN
        UPDATE owner_usage SET bytes = bytes - OLD.size WHERE owner = OLD.owner AND OLD.present = 1;
        INSERT INTO owner_usage(owner, bytes) SELECT NEW.owner, NEW.size WHERE NEW.present = 1
          ON CONFLICT(owner) DO UPDATE SET bytes = bytes + excluded.bytes;
      END;
      CREATE TRIGGER object_refs_usage_delete AFTER DELETE ON object_refs WHEN OLD.present = 1 BEGIN
        UPDATE owner_usage SET bytes = bytes - OLD.size WHERE owner = OLD.owner;
      END;
    `,
  },
  {
    version: 43,
    name: 'tls-routes',
    sql: `
      -- Every link is TLS (docs/protocol.md "TLS bound to the cell identity"): a stored
      -- http:// route means TLS on the same host and port. Rewritten once; a duplicate of an
      -- https:// route the peer already had is dropped. An http URL without a port meant 80.
      UPDATE OR IGNORE routes SET url = 'https' || substr(url, 5) || CASE WHEN substr(url, 8) GLOB '*:[0-9]*' AND substr(url, 8) NOT GLOB '*]' THEN '' ELSE ':80' END
        WHERE url LIKE 'http://%';
      DELETE FROM routes WHERE url LIKE 'http://%';
    `,
  },
  {
    version: 44,
    name: 'watch',
    sql: `
      -- Watched folders (src/watch, docs/watch.md). root is an absolute, resolved directory.
      CREATE TABLE watched_folders (
        root TEXT PRIMARY KEY,
        added_at INTEGER NOT NULL,
        dev TEXT NOT NULL                 -- st_dev of root when watched: another device = not mounted
      );
      -- Per watched file: its stat at the last ingest (catch-up scans skip unchanged files)
      -- and when it vanished from its folder (it stays in Grove: "gone at source").
      CREATE TABLE watch_index (
        path TEXT PRIMARY KEY,
        root TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns TEXT NOT NULL,
        ino TEXT NOT NULL,
        manifest_hash TEXT,
        ingested_at INTEGER NOT NULL,
        gone_at INTEGER
      );
      CREATE INDEX watch_index_root ON watch_index(root);
    `,
  },
  {
    version: 45,
    name: 'delete',
    sql: `
      -- Signed deletes with a trash (src/delete, docs/delete.md).
      -- Objects moved out of chunks/ into trash/ (ours or held for a peer), collected after
      -- delete.grace_s unless something references them again.
      CREATE TABLE trash (
        hash TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        kind TEXT NOT NULL,
        size INTEGER NOT NULL,
        trashed_at INTEGER NOT NULL
      );
      -- Versions of our own files removed by grove delete (kept for undelete and grove trash).
      CREATE TABLE deleted_files (
        id INTEGER PRIMARY KEY,
        batch INTEGER NOT NULL,
        path TEXT NOT NULL,
        name TEXT NOT NULL,
        version INTEGER NOT NULL,
        size INTEGER NOT NULL,
        file_hash TEXT NOT NULL,
        manifest_hash TEXT NOT NULL,
        chunks INTEGER NOT NULL,
        added_at INTEGER NOT NULL,
        deleted_at INTEGER NOT NULL
      );
      CREATE INDEX deleted_files_path ON deleted_files(path);
      CREATE INDEX deleted_files_name ON deleted_files(name);
      -- Our objects each holder must be told to trash; sent_at once it answered.
      CREATE TABLE delete_outbox (
        peer_id TEXT NOT NULL,
        hash TEXT NOT NULL,
        manifest INTEGER NOT NULL,      -- 1: the manifest of a deleted version
        created_at INTEGER NOT NULL,
        sent_at INTEGER,
        result TEXT,                    -- trashed | refused | missing
        PRIMARY KEY (peer_id, hash)
      );
      -- Holder side: the highest delete sequence number accepted from each owner (replays).
      CREATE TABLE delete_seen (
        owner TEXT PRIMARY KEY,
        last_seq INTEGER NOT NULL,
        at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 46,
    name: 'source-stats',
    sql: `
      -- What each added path looked like when its latest version was recorded (src/ingest,
      -- docs/design.md §2): a re-add whose stat matches reads no file contents.
      CREATE TABLE source_stats (
        path TEXT PRIMARY KEY,
        size INTEGER NOT NULL,
        mtime_ns TEXT NOT NULL,
        ctime_ns TEXT NOT NULL,
        ino TEXT NOT NULL,
        dev TEXT NOT NULL,
        manifest_hash TEXT NOT NULL
      );
    `,
  },
  {
    version: 47,
    name: 'catalog-at-scale',
    sql: `
      -- How many objects are present here and their bytes, kept by triggers, so \`grove status\`
      -- reads one row instead of counting a catalog of a million objects.
      CREATE TABLE object_totals (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        objects INTEGER NOT NULL,
        bytes INTEGER NOT NULL
      );
      INSERT INTO object_totals(id, objects, bytes)
        SELECT 1, COUNT(*), COALESCE(SUM(size), 0) FROM objects WHERE present = 1;
      CREATE TRIGGER objects_totals_insert AFTER INSERT ON objects WHEN NEW.present = 1 BEGIN
        UPDATE object_totals SET objects = objects + 1, bytes = bytes + NEW.size WHERE id = 1;
      END;
      CREATE TRIGGER objects_totals_update AFTER UPDATE OF present, size ON objects BEGIN
        UPDATE object_totals SET objects = objects - OLD.present + NEW.present,
          bytes = bytes - OLD.present * OLD.size + NEW.present * NEW.size WHERE id = 1;
      END;
      CREATE TRIGGER objects_totals_delete AFTER DELETE ON objects WHEN OLD.present = 1 BEGIN
        UPDATE object_totals SET objects = objects - 1, bytes = bytes - OLD.size WHERE id = 1;
      END;
      -- objects_owner_seq (owner, seq) serves every lookup by owner: this one only cost space.
      DROP INDEX objects_owner;
      -- A revision of the file listing, moved by every change to it, so the recovery index
      -- knows it is unchanged without reading 100 000 versions (src/ingest/index-section.ts).
      INSERT OR IGNORE INTO meta(key, value) VALUES ('files_rev', '0');
      CREATE TRIGGER files_rev_insert AFTER INSERT ON files BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'files_rev';
      END;
      CREATE TRIGGER files_rev_update AFTER UPDATE ON files BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'files_rev';
      END;
      CREATE TRIGGER files_rev_delete AFTER DELETE ON files BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'files_rev';
      END;
      -- Watched files gone at source, per folder: \`grove status\` counts them without reading
      -- the folder's rows.
      CREATE INDEX watch_index_gone ON watch_index(root) WHERE gone_at IS NOT NULL;
      -- The same for placement records: a round whose inputs did not move skips its plan
      -- (src/sync/plan.ts).
      INSERT OR IGNORE INTO meta(key, value) VALUES ('placements_rev', '0');
      CREATE TRIGGER placements_rev_insert AFTER INSERT ON placements BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'placements_rev';
      END;
      CREATE TRIGGER placements_rev_update AFTER UPDATE ON placements BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'placements_rev';
      END;
      CREATE TRIGGER placements_rev_delete AFTER DELETE ON placements BEGIN
        UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'placements_rev';
      END;
    `,
  },
  {
    version: 48,
    name: 'listing-widths',
    sql: `
      -- The widest name and the highest version, so \`grove ls\` sizes its columns before its
      -- first page without reading every version.
      CREATE INDEX files_name_length ON files(length(name));
      CREATE INDEX files_version ON files(version);
    `,
  },
];
