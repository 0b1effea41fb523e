import type { Command } from 'commander';
import { loadKeys } from '../../home/keys.js';
import { homePaths } from '../../home/paths.js';
import { emit, homeDir } from '../context.js';

export function registerId(program: Command): void {
  program
    .command('id')
    .description("print this cell's ID and public keys")
    .action((_opts: unknown, cmd: Command) => {
      const keys = loadKeys(homePaths(homeDir(cmd)));
      const out = { id: keys.cellId, ed25519: keys.identity.publicRaw.toString('hex'), x25519: keys.x25519.publicRaw.toString('hex') };
      emit(cmd, out, `${out.id}\ned25519 ${out.ed25519}\nx25519  ${out.x25519}`);
    });
}
