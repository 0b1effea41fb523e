import type { Command } from 'commander';
import { resolve } from 'node:path';
import { emit } from '../context.js';
import { daemonOr } from '../cell.js';
import type { OfferView } from '../../update/service.js';
import type { RunningBuild } from '../../update/running.js';

// `grove update [--accept [HASH]]` and `grove update import BUNDLE` (docs/updates.md). They run
// on the daemon when one runs (it is then the single writer of HOME/update), else in-process.

interface ListResult { current: RunningBuild; supervised: boolean; offers: OfferView[] }

export function registerUpdate(program: Command): void {
  const update = program
    .command('update')
    .description('builds offered by peers or imported; --accept installs one (through the watchdog)')
    .option('--accept [build_hash]', 'accept the newest offer, or the one given')
    .option('--allow-major', 'allow a build of a higher major version')
    .action(async (opts: { accept?: string | true; allowMajor?: boolean }, cmd: Command) => {
      if (opts.accept !== undefined) {
        const params = { ...(typeof opts.accept === 'string' ? { hash: opts.accept } : {}), allow_major: !!opts.allowMajor };
        const r = await daemonOr<{ accepted: OfferView; restarting: boolean }>(cmd, 'update-accept', params,
          (cell) => cell.updates.accept(params.hash, { allowMajor: params.allow_major }));
        emit(cmd, r, `accepted grove ${r.accepted.version} (${r.accepted.build_hash.slice(0, 12)}): ${r.restarting
          ? 'the watchdog installs it now and rolls back if it does not come up'
          : 'it is installed the next time `grove watchdog` starts the cell'}`);
        return;
      }
      const r = await daemonOr<ListResult>(cmd, 'update-list', {}, (cell) => cell.updates.list());
      emit(cmd, { current: r.current, offers: r.offers }, () => [
        `running grove ${r.current.version}${r.current.build_hash ? ` (${r.current.build_hash.slice(0, 12)})` : ''}${r.supervised ? ' under the watchdog' : ''}`,
        ...(r.offers.length ? r.offers.map((o) => `  ${o.version.padEnd(10)} ${o.build_hash.slice(0, 12)}  ${o.state.padEnd(9)} from ${o.from === 'import' ? 'import' : o.from.slice(0, 12)}${o.reason ? `  (${o.reason})` : ''}`) : ['  no builds on offer']),
      ].join('\n'));
    });
  update
    .command('import <bundle>')
    .description('verify a release bundle and keep it here (offered to peers, installable)')
    .option('--allow-major', 'allow a build of a higher major version')
    .action(async (bundle: string, opts: { allowMajor?: boolean }, cmd: Command) => {
      const file = resolve(bundle);
      const r = await daemonOr<OfferView>(cmd, 'update-import', { file, allow_major: !!opts.allowMajor },
        (cell) => cell.updates.importBundle(file, { allowMajor: !!opts.allowMajor }));
      emit(cmd, r, `imported grove ${r.version} (${r.build_hash.slice(0, 12)}), signed by ${r.signed_by.slice(0, 12)}: accept it with \`grove update --accept\``);
    });
}
