import type { Command } from 'commander';
import password from '@inquirer/password';
import { existsSync } from 'node:fs';
import { homePaths } from '../../home/paths.js';
import { writePassword } from '../../home/password.js';
import { GroveError } from '../../errors.js';
import { emit, homeDir } from '../context.js';

// `grove passwd`: set the dashboard password (docs/design.md §1 dashboard_auth, PBKDF2-SHA256).
// From $GROVE_DASHBOARD_PASSWORD (scripts), else asked twice on the terminal without echo.

async function readNewPassword(): Promise<string> {
  const env = process.env.GROVE_DASHBOARD_PASSWORD;
  if (env) return env;
  if (!process.stdin.isTTY) throw new GroveError('USAGE', 'no password: set GROVE_DASHBOARD_PASSWORD or run in a terminal');
  try {
    const first = await password({ message: 'New dashboard password:' }, { output: process.stderr });
    const again = await password({ message: 'Repeat it:' }, { output: process.stderr });
    if (first !== again) throw new GroveError('USAGE', 'the passwords do not match');
    return first;
  } catch (e) {
    if (e instanceof GroveError) throw e;
    throw new GroveError('USAGE', 'cancelled');
  }
}

export function registerPasswd(program: Command): void {
  program
    .command('passwd')
    .description('set the dashboard password (at least 8 characters)')
    .action(async (_opts: unknown, cmd: Command) => {
      const p = homePaths(homeDir(cmd));
      if (!existsSync(p.nodeKey)) throw new GroveError('NOT_FOUND', `no grove home at ${p.root}: run \`grove init\` first`);
      writePassword(p.dashboardAuth, await readNewPassword());
      emit(cmd, { ok: true }, 'dashboard password changed');
    });
}
