import type { Command } from 'commander';
import { initHome } from '../../home/home.js';
import { loadKeys } from '../../home/keys.js';
import { homePaths } from '../../home/paths.js';
import { emit, homeDir } from '../context.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('create a grove home: keys, config, placement.db (never overwrites keys)')
    .option('--name <name>', 'a name for this cell (default: the host name)')
    .action((opts: { name?: string }, cmd: Command) => {
      const dir = homeDir(cmd);
      const password = process.env.GROVE_DASHBOARD_PASSWORD || undefined;
      const r = initHome(dir, { name: opts.name, password });
      const keys = loadKeys(homePaths(dir));
      emit(cmd, { home: r.home, id: keys.cellId, created: r.created, ...(r.dashboardPassword ? { dashboard_password: r.dashboardPassword } : {}) }, () => {
        const lines = [r.created.length ? `initialized grove home at ${r.home}` : `grove home at ${r.home} already initialized`, `cell id: ${keys.cellId}`];
        if (r.dashboardPassword) lines.push(`dashboard password: ${r.dashboardPassword}  (shown once; change it with \`grove passwd\`)`);
        return lines.join('\n');
      });
    });
}
