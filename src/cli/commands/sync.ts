import type { Command } from 'commander';
import { emit, fail, formatBytes } from '../context.js';
import { daemonOr } from '../cell.js';
import type { RoundSummary } from '../../sync/round.js';
import type { RestoreResult } from '../../recovery/recovery.js';

// `grove sync` (one opportunistic round now, docs/design.md §4) and `grove restore` (rebuild the file
// listing from peers after a total loss, docs/design.md §4). Both run on the daemon when it is up.

export function registerSync(program: Command): void {
  program
    .command('sync')
    .description('run one sync round now: probe peers, exchange inventories, push, pull, heal')
    .action(async (_opts: unknown, cmd: Command) => {
      const s = await daemonOr<RoundSummary>(cmd, 'sync', {}, (cell) => cell.sync.service.runNow());
      const { errors, ...summary } = s;
      emit(cmd, { ...summary, errors }, () => [
        `reached ${s.peers_reached}/${s.peers_total} peers: pushed ${s.pushed}, pulled ${s.pulled}, released ${s.released}, healed ${s.healed}`,
        `sent ${formatBytes(s.bytes_sent)}, received ${formatBytes(s.bytes_received)}; ${s.at_risk} objects below the replication factor`,
        ...errors.map((e) => `  ${e.step}${e.peer ? ` ${e.peer.slice(0, 12)}` : ''}: ${e.error}`),
      ].join('\n'));
      if (s.peers_total > 0 && s.peers_reached === 0) fail(1);
    });

  program
    .command('restore')
    .description("after `grove key import` and `grove pair` with a surviving peer: bring back this cell's file listing")
    .action(async (_opts: unknown, cmd: Command) => {
      const r = await daemonOr<RestoreResult>(cmd, 'restore', {}, (cell) => cell.sync.restore());
      const missing = Array.isArray(r.missing_manifests) ? r.missing_manifests : [];
      emit(cmd, r, () => [
        `index from ${r.index_from.slice(0, 12)} (${new Date(r.index_created_at).toISOString()}): ${r.files} file versions, ${r.restored} restored, ${r.peers_added} peers added`,
        `${r.grants_restored} files shared with you back in the feed, ${r.shares_restored} of your shares resumed`,
        ...(missing.length ? [`${missing.length} manifests could not be fetched yet; run \`grove restore\` again when more peers are online`] : []),
        'files come back with `grove get`; the next sync rounds pull every chunk home',
      ].join('\n'));
      if (missing.length) fail(1);
    });
}
