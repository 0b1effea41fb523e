import type { Command } from 'commander';
import { createInvite, pairWithCode } from '../../peers/pairing.js';
import { pairResult } from '../../peers/control.js';
import { emit } from '../context.js';
import { termSafe } from '../term.js';
import { daemonOr } from '../cell.js';

// `grove invite` and `grove pair CODE` (docs/design.md §3 "Pairing"). Both work with or without a
// running local cell; pairing needs the inviting cell to be running.

export function registerPairing(program: Command): void {
  program
    .command('invite')
    .description('print a single-use, expiring code another cell can pair with')
    .action(async (_opts: unknown, cmd: Command) => {
      const { code, invite } = await daemonOr(cmd, 'invite', {}, (cell) => createInvite(cell));
      const expires = new Date(invite.exp * 1000).toISOString();
      emit(cmd, { code, id: invite.id, routes: invite.routes, expires_at: expires }, [
        `invite code for ${invite.name} (single use, valid until ${expires}):`,
        '',
        code,
        '',
        'on the other cell run:  grove pair <code>',
        `advertised routes: ${invite.routes.join(' ')}`,
      ].join('\n'));
    });

  program
    .command('pair <code>')
    .description('pair with the cell that printed this invite code (it must be running)')
    .action(async (code: string, _opts: unknown, cmd: Command) => {
      const p = await daemonOr(cmd, 'pair', { code }, async (cell) => pairResult(await pairWithCode(cell, code)));
      emit(cmd, p, `paired with ${termSafe(p.name)} (${p.id})`);
    });
}
