import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { formatBytes, wantsJson, withHome } from '../context.js';
import { termText } from '../term.js';
import { lsPages, listWidths, type LsRow } from '../../ingest/list.js';
import type { Home } from '../../home/home.js';
import { parseHealthFile, type HealthFile } from '../../peers/records.js';
import { PeerRegistry } from '../../peers/registry.js';
import { fileCopies, type CopyContext, type FileCopies } from '../../sync/copies.js';
import { goneAt } from '../../watch/folders.js';

type Row = LsRow & FileCopies & { gone_at_source: number | null };

// `grove ls` prints the listing as it reads it, a page of files at a time: the first lines
// come at once and memory stays flat however many files the cell stores. The JSON document
// is the same as if it had been built whole.

export function registerLs(program: Command): void {
  program
    .command('ls')
    .description('list stored files (latest version of each path) and their peer copies')
    .option('--versions', 'list every version')
    .action(async (opts: { versions?: boolean }, cmd: Command) => {
      await withHome(cmd, async (home) => {
        const ctx = copyContext(home);
        const copies = fileCopies(ctx);
        const gone = goneAt(home.db);
        const pages = (function* () {
          for (const page of lsPages(home.db, { versions: !!opts.versions, pageSize: 100 })) {
            yield page.map((r): Row => ({ ...r, ...copies(r.manifest_hash), gone_at_source: gone(r.path) }));
          }
        })();
        // A reader that stops early (`grove ls | head`) ends the listing, quietly.
        let closed = false;
        process.stdout.on('error', (e: NodeJS.ErrnoException) => {
          if (e.code !== 'EPIPE') throw e;
          closed = true;
        });
        const write = (s: string) => process.stdout.write(s);
        /** Writes page after page; returns how many, or undefined when the reader went away. */
        const eachPage = async (fn: (page: Row[], first: boolean) => void): Promise<number | undefined> => {
          let n = 0;
          for (const page of pages) {
            fn(page, n++ === 0);
            await new Promise<void>((resolve) => setImmediate(resolve)); // lets an EPIPE arrive
            if (closed) return undefined;
          }
          return n;
        };
        if (wantsJson(cmd)) {
          write('{"files":[');
          if (await eachPage((page, first) => write((first ? '' : ',') + page.map((r) => JSON.stringify(r)).join(','))) !== undefined) write(']}\n');
          return;
        }
        const table = tableFormat(home, ctx.peers.length);
        // Human text may carry file names: no raw controls reach the terminal.
        const n = await eachPage((page, first) => write(termText((first ? table.head + '\n' : '') + page.map(table.line).join('\n') + '\n')));
        if (n === 0) write('no files yet (add some with `grove add PATH`)\n');
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

const SIZE_WIDTH = formatBytes(1023.9 * 1024 ** 3).length; // the widest size formatBytes prints

/** Column widths fixed before the first page, from what any row can hold. */
function tableFormat(home: Home, peers: number): { head: string; line: (r: Row) => string } {
  const w = listWidths(home.db);
  const factor = home.config.replication.factor;
  const widths = [
    Math.max(4, w.name), Math.max(3, `v${w.version}`.length), SIZE_WIDTH,
    Math.max(6, `${Math.max(peers, factor)}/${factor}`.length), '2000-01-01T00:00:00Z'.length,
  ];
  const line = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]!))).join('  ');
  return {
    head: line(['NAME', 'VER', 'SIZE', 'COPIES', 'ADDED', 'PATH']),
    line: (r) => line([r.name, `v${r.version}`, formatBytes(r.size), `${r.copies}/${r.desired}`,
      new Date(r.added_at).toISOString().replace(/\.\d+Z$/, 'Z'), r.gone_at_source === null ? r.path : `${r.path} (gone at source)`]),
  };
}
