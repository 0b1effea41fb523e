import type { Command } from 'commander';
import { resolve } from 'node:path';
import { emit, formatBytes } from '../context.js';
import { daemonOr } from '../cell.js';
import type { DeleteResult, TrashView } from '../../delete/service.js';
import { usage } from '../../errors.js';

// `grove delete FILE… [--version N] [--yes]`, `grove undelete FILE`, `grove trash`
// (docs/delete.md). Paths are resolved here, against the caller's directory.

const abs = (f: string) => (f.includes('/') ? resolve(f) : f);

function parseVersion(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1) throw usage('--version must be a positive integer');
  return Number(v);
}

export function registerDelete(program: Command): void {
  program
    .command('delete')
    .description('delete files (all versions, or --version N) here and, by signed request, on every holder; kept in the trash for delete.grace_s')
    .argument('<files...>', 'names, paths, or folders (everything added from under them)')
    .option('--version <n>', 'only this version')
    .option('--yes', 'confirm deleting more than delete.confirm_over files at once')
    .action(async (files: string[], opts: { version?: string; yes?: boolean }, cmd: Command) => {
      const version = parseVersion(opts.version);
      const params = { files: files.map(abs), version, yes: !!opts.yes };
      const r = await daemonOr<DeleteResult>(cmd, 'delete', params, (cell) => cell.deletes.delete(params.files, { version, yes: params.yes }));
      emit(cmd, r, () => [
        ...r.files.map((f) => `deleted ${f.path} (version${f.versions.length > 1 ? 's' : ''} ${f.versions.join(', ')})`),
        ...r.holders.map((h) => `  holder ${h.peer.slice(0, 12)}: ${h.error ? `not reached (${h.error}); the request waits for the next contact` : `${h.trashed} objects to its trash${h.refused ? `, ${h.refused} kept (shared or added again)` : ''}`}`),
        'undo within the grace period with `grove undelete FILE`',
      ].join('\n'));
    });

  program
    .command('undelete')
    .description('bring a deleted file back from the trash (within delete.grace_s)')
    .argument('<file>', 'name or path of a deleted file')
    .option('--version <n>', 'only this version')
    .action(async (file: string, opts: { version?: string }, cmd: Command) => {
      const version = parseVersion(opts.version);
      const r = await daemonOr(cmd, 'undelete', { files: [abs(file)], version }, (cell) => cell.deletes.undelete(abs(file), { version }));
      emit(cmd, r, `restored ${r.path} (version${r.versions.length > 1 ? 's' : ''} ${r.versions.join(', ')})${r.from_holders ? `, ${r.from_holders} objects from holders` : ''}`);
    });

  program
    .command('trash')
    .description('deleted files still in the trash, and trash usage')
    .action(async (_opts: unknown, cmd: Command) => {
      const r = await daemonOr<TrashView>(cmd, 'trash', {}, (cell) => cell.deletes.trash());
      emit(cmd, r, () => [
        ...(r.files.length ? r.files.map((f) => `${f.name}  v${f.version}  ${formatBytes(f.size)}  deleted ${new Date(f.deleted_at).toISOString()}  until ${new Date(f.expires_at).toISOString()}  ${f.path}`) : ['no deleted files in the trash']),
        `trash: ${r.own.objects} own objects (${formatBytes(r.own.bytes)}), ${r.held.objects} held for peers (${formatBytes(r.held.bytes)})`,
      ].join('\n'));
    });
}
