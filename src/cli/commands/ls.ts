import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { emit, formatBytes, withHome } from '../context.js';
import { lsRows, type LsRow } from '../../ingest/list.js';
import type { Home } from '../../home/home.js';
import { parseHealthFile, type HealthFile } from '../../peers/records.js';
import { PeerRegistry } from '../../peers/registry.js';
import { copyView, fileCopies, type CopyContext, type FileCopies } from '../../sync/copies.js';
import { goneAtSource } from '../../watch/folders.js';

type Row = LsRow & FileCopies & { gone_at_source: number | null };

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('list stored files (latest version of each path) and their peer copies')
    .option('--versions', 'list every version')
    .action(async (opts: { versions?: boolean }, cmd: Command) => {
      await withHome(cmd, (home) => {
        const ctx = copyContext(home);
        const view = copyView(ctx);
        const gone = goneAtSource(home.db);
        const rows: Row[] = lsRows(home.db, { versions: !!opts.versions }).map((r) => ({ ...r, ...fileCopies(ctx, view, r.manifest_hash), gone_at_source: gone.get(r.path) ?? null }));
        emit(cmd, { files: rows }, () => table(rows));
      });
    });
}

/** Read-only view of the peer health records (the daemon may be writing them). */
export function readHealth(path: string): HealthFile | undefined {
  try {
    return parseHealthFile(JSON.parse(readFileSync(path, 'utf8')));
  } catch {
    return undefined;
  }
}

export function copyContext(home: Home): CopyContext {
  const health = readHealth(home.paths.peerHealth);
  return {
    db: home.db,
    selfId: home.keys.cellId,
    now: Date.now(),
    offlineGraceMs: home.config.replication.offline_grace_s * 1000,
    factor: home.config.replication.factor,
    peers: new PeerRegistry(home.db, Date.now).list().map((p) => ({ id: p.id, preferred: p.preferred })),
    health: (id) => health?.peers[id],
  };
}

function table(rows: Row[]): string {
  if (rows.length === 0) return 'no files yet (add some with `grove add PATH`)';
  const cells = rows.map((r) => [r.name, `v${r.version}`, formatBytes(r.size), `${r.copies}/${r.desired}`, new Date(r.added_at).toISOString().replace(/\.\d+Z$/, 'Z'), r.gone_at_source === null ? r.path : `${r.path} (gone at source)`]);
  const head = ['NAME', 'VER', 'SIZE', 'COPIES', 'ADDED', 'PATH'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]!))).join('  ');
  return [line(head), ...cells.map(line)].join('\n');
}
