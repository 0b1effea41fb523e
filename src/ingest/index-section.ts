import type { IndexSection } from '../recovery/sections.js';
import { getMeta, type DB } from '../store/db.js';
import type { ObjectStore } from '../store/objects.js';
import { recordObject } from '../store/catalog.js';
import { openManifest } from '../formats/manifest.js';
import { INDEX_PAGE_ITEMS } from '../formats/file-index.js';
import { fileKey } from '../crypto/kdf.js';
import { isHash } from '../crypto/encoding.js';
import { corrupt } from '../errors.js';
import { listVersions, insertVersion, byManifest, type FileVersion } from './files.js';

// The `files` section of the recovery index (docs/formats.md "Recovery index"): every
// version of this cell's own files. Restoring fetches each manifest from a holder, opens it
// with the file key (so a holder cannot forge one) and records the version.

/** A version as the index keeps it: the `files` row without its local id. */
export type IndexFile = Omit<FileVersion, 'id'>;

export interface FilesSectionDeps {
  db: DB;
  objects: ObjectStore;
  master: Uint8Array;
  selfId: string;
}

const indexFile = (f: FileVersion): IndexFile => ({
  path: f.path, name: f.name, version: f.version, size: f.size, file_hash: f.file_hash,
  manifest_hash: f.manifest_hash, chunks: f.chunks, added_at: f.added_at,
});

export function filesSection(d: FilesSectionDeps): IndexSection {
  return {
    name: 'files',
    collect: (): IndexFile[] => listVersions(d.db, { versions: true }).map(indexFile),
    // Pages by ranges of version ids: a new version lands in the last page and a deleted one
    // changes only its own, so the other pages stay the same objects.
    pages: function* () {
      const first = d.db.prepare('SELECT MIN(id) FROM files WHERE id > ?').pluck();
      const range = d.db.prepare('SELECT * FROM files WHERE id > ? AND id <= ? ORDER BY id');
      for (let after = 0; ;) {
        const next = first.get(after) as number | null;
        if (next === null) return;
        const start = Math.floor((next - 1) / INDEX_PAGE_ITEMS) * INDEX_PAGE_ITEMS;
        yield (range.all(start, start + INDEX_PAGE_ITEMS) as FileVersion[]).map(indexFile);
        after = start + INDEX_PAGE_ITEMS;
      }
    },
    // Kept by triggers on `files` (migration 46): every insert, update or delete moves it.
    revision: () => getMeta(d.db, 'files_rev') ?? '0',
    restore: async (value, ctx) => {
      if (!Array.isArray(value)) throw corrupt('invalid index files');
      const files = value as IndexFile[];
      for (const f of files) {
        if (!f || !isHash(f.manifest_hash) || !isHash(f.file_hash) || typeof f.path !== 'string') throw corrupt('invalid index entry');
      }
      const missing: string[] = [];
      let restored = 0;
      for (const f of files) {
        ctx.signal?.throwIfAborted();
        if (byManifest(d.db, f.manifest_hash)) continue;
        if (!(await ctx.fetchObject(f.manifest_hash))) {
          missing.push(f.manifest_hash);
          continue;
        }
        const sealed = await d.objects.get(f.manifest_hash);
        const m = openManifest(fileKey(d.master, Buffer.from(f.file_hash, 'hex')), sealed);
        d.db.transaction(() => {
          recordObject(d.db, { hash: f.manifest_hash, size: sealed.length, kind: 'manifest', owner: d.selfId }, ctx.now);
          insertVersion(d.db, {
            path: f.path, name: f.name, version: f.version, size: m.total_size, file_hash: m.file_hash,
            manifest_hash: f.manifest_hash, chunks: m.chunks.length, added_at: f.added_at,
          }, m.chunks);
        })();
        restored++;
      }
      return { files: files.length, restored, missing_manifests: missing };
    },
  };
}
