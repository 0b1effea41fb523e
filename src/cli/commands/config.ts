import type { Command } from 'commander';
import { homePaths } from '../../home/paths.js';
import { loadConfig, getConfigValue, setConfigValue, CONFIG_KEYS } from '../../home/config.js';
import { emit, homeDir } from '../context.js';
import { usage } from '../../errors.js';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('read or change config.json (validated)');
  config
    .command('get [key]')
    .description('print one key, or the whole effective configuration')
    .action((key: string | undefined, _opts: unknown, cmd: Command) => {
      const cfg = loadConfig(homePaths(homeDir(cmd)).config);
      if (key === undefined) {
        emit(cmd, cfg, JSON.stringify(cfg, null, 2));
        return;
      }
      if (!(key in CONFIG_KEYS) && getConfigValue(cfg, key) === undefined) throw usage(`unknown config key: ${key}`);
      const v = getConfigValue(cfg, key);
      emit(cmd, { key, value: v }, typeof v === 'string' ? v : JSON.stringify(v));
    });
  config
    .command('set <key> <value>')
    .description(`set a key (${Object.keys(CONFIG_KEYS).join(', ')})`)
    .action((key: string, value: string, _opts: unknown, cmd: Command) => {
      const v = setConfigValue(homePaths(homeDir(cmd)).config, key, value);
      emit(cmd, { key, value: v }, `${key} = ${typeof v === 'string' ? v : JSON.stringify(v)} (restart the cell to apply)`);
    });
}
