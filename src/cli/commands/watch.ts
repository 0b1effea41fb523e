import type { Command } from 'commander';
import { emit, formatBytes, homeDir, withHome } from '../context.js';
import { homePaths } from '../../home/paths.js';
import { viaDaemonOr } from '../../daemon/control-client.js';
import { listFolders, folderCounts } from '../../watch/folders.js';
import { unwatchRoot, watchRoot } from '../../watch/roots.js';
import type { FolderView } from '../../watch/service.js';
import { usage } from '../../errors.js';

// `grove watch DIR`, `grove watch --list`, `grove unwatch DIR` (docs/watch.md). Kept in the
// home; a running cell starts or stops watching at once, else at its next start.

function human(folders: FolderView[]): string {
  if (!folders.length) return 'no watched folders (add one with `grove watch DIR`)';
  return folders.map((f) => {
    const scan = f.scan ? `, scanning ${f.scan.files_done}/${f.scan.files_total} files (${formatBytes(f.scan.bytes_done)} of ${formatBytes(f.scan.bytes_total)})` : '';
    const note = f.note ? `\n  ${f.note}` : '';
    return `${f.root}  ${f.state}  ${f.files} files${f.gone ? `, ${f.gone} gone at source` : ''}${scan}${note}`;
  }).join('\n');
}

export function registerWatch(program: Command): void {
  program
    .command('watch')
    .description('watch a folder: the running cell adds new and changed files (--list: show watched folders)')
    .argument('[dir]', 'folder to watch')
    .option('--list', 'list watched folders')
    .action(async (dir: string | undefined, opts: { list?: boolean }, cmd: Command) => {
      const paths = homePaths(homeDir(cmd));
      if (opts.list) {
        const r = await viaDaemonOr<{ folders: FolderView[] }>(paths, 'watch-list', {}, () => withHome(cmd, (home) => ({
          folders: listFolders(home.db).map((f) => ({ root: f.root, state: 'stopped' as const, added_at: f.added_at, ...folderCounts(home.db, f.root), note: null, scan: null })),
        })));
        emit(cmd, r, human(r.folders));
        return;
      }
      if (!dir) throw usage('give a folder to watch, or --list');
      const r = await viaDaemonOr<{ folder: { root: string } }>(paths, 'watch', { dir }, () => withHome(cmd, (home) => ({
        folder: { root: watchRoot(home.db, home.paths.root, dir, Date.now()).root },
      })));
      emit(cmd, r, `watching ${r.folder.root}`);
    });

  program
    .command('unwatch')
    .description('stop watching a folder (its files stay in Grove)')
    .argument('<dir>', 'a watched folder')
    .action(async (dir: string, _opts: unknown, cmd: Command) => {
      const r = await viaDaemonOr<{ root: string }>(homePaths(homeDir(cmd)), 'unwatch', { dir }, () => withHome(cmd, (home) => ({ root: unwatchRoot(home.db, dir) })));
      emit(cmd, r, `no longer watching ${r.root} (its files stay in Grove)`);
    });
}
