import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { emit, homeDir } from '../context.js';
import { readPassphrase } from '../passphrase.js';
import { exportKeyBundle, importKeyBundle } from '../../home/backup.js';
import { GroveError } from '../../errors.js';

export function registerKey(program: Command): void {
  const key = program.command('key').description('back up or restore the cell keys (passphrase-encrypted)');
  key
    .command('export')
    .description('write identity, X25519 and master keys, sealed under a passphrase ($GROVE_PASSPHRASE or prompt)')
    .requiredOption('--out <file>', 'bundle to write (mode 600)')
    .option('--force', 'overwrite an existing file')
    .action(async (opts: { out: string; force?: boolean }, cmd: Command) => {
      const dir = homeDir(cmd);
      const passphrase = await readPassphrase({ confirm: true });
      const r = await exportKeyBundle(dir, opts.out, passphrase, { force: !!opts.force });
      emit(cmd, { id: r.cellId, out: r.out }, `wrote key bundle for ${r.cellId} to ${r.out}; keep it and its passphrase safe`);
    });
  key
    .command('import')
    .description('restore keys from a bundle into a new home, then create the rest as init does')
    .argument('<file>', 'bundle written by `grove key export`')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const dir = homeDir(cmd);
      let bundle: Buffer;
      try {
        bundle = await readFile(file);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        throw new GroveError(code === 'ENOENT' ? 'NOT_FOUND' : 'IO', `cannot read ${file}${code === 'ENOENT' ? ': no such file' : ` (${code})`}`);
      }
      const passphrase = await readPassphrase({ confirm: false });
      const password = process.env.GROVE_DASHBOARD_PASSWORD || undefined;
      const r = await importKeyBundle(dir, bundle, passphrase, { password });
      const pw = r.init.dashboardPassword;
      emit(cmd, { home: dir, id: r.cellId, created: r.init.created, ...(pw ? { dashboard_password: pw } : {}) }, () => {
        const lines = [`restored cell ${r.cellId} into ${dir}`, 'its files come back from peers once they are paired again'];
        if (pw) lines.push(`dashboard password: ${pw}  (shown once; change it with \`grove passwd\`)`);
        return lines.join('\n');
      });
    });
}
