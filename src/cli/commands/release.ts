import type { Command } from 'commander';
import { resolve } from 'node:path';
import { emit } from '../context.js';
import { usage } from '../../errors.js';
import { generateReleaseKey, loadReleaseKey } from '../../update/release-key.js';
import { buildBundle } from '../../update/pack.js';
import { INSTALL_ROOT } from '../../update/running.js';

// `grove release keygen` and `grove release build` (docs/updates.md "Making a release").

const DAY_MS = 24 * 3600 * 1000;

export function registerRelease(program: Command): void {
  const release = program.command('release').description('make signed release bundles');
  release
    .command('keygen')
    .description('create an Ed25519 release key (mode 600); prints its public key')
    .requiredOption('--out <file>', 'where to write the private key (must not exist)')
    .action(async (opts: { out: string }, cmd: Command) => {
      const publicKey = generateReleaseKey(resolve(opts.out));
      emit(cmd, { public_key: publicKey }, `release key written to ${opts.out}\npublic key: ${publicKey}\nadd it on each cell: grove config set update.trusted_keys ${publicKey}`);
    });
  release
    .command('build')
    .description('pack a built installation into a signed bundle')
    .option('--from <dir>', 'the installation to pack (default: this one)')
    .requiredOption('--key <file>', 'release private key (from `grove release keygen`)')
    .requiredOption('--out <bundle>', 'bundle file to write')
    .option('--ttl-days <n>', 'days until the manifest expires', '90')
    .option('--expires <time>', 'absolute expiry (ISO 8601), instead of --ttl-days')
    .action(async (opts: { from?: string; key: string; out: string; ttlDays: string; expires?: string }, cmd: Command) => {
      const ttl = Number(opts.ttlDays);
      if (!Number.isFinite(ttl) || ttl <= 0 || ttl > 3650) throw usage('--ttl-days must be between 0 and 3650');
      let expiresAt: number | undefined;
      if (opts.expires !== undefined) {
        expiresAt = Date.parse(opts.expires);
        if (!Number.isFinite(expiresAt) || expiresAt < 0) throw usage('--expires must be an ISO 8601 time');
      }
      const m = await buildBundle({
        from: resolve(opts.from ?? INSTALL_ROOT), key: loadReleaseKey(resolve(opts.key)), out: resolve(opts.out),
        now: Date.now(), ttlMs: ttl * DAY_MS, ...(expiresAt !== undefined ? { expiresAt } : {}),
      });
      const { signature: _s, ...shown } = m;
      emit(cmd, { ...shown, bundle: resolve(opts.out) }, `${opts.out}: grove ${m.version}, build ${m.build_hash}\n  ${m.files} files, ${m.size} bytes, for ${m.platform}-${m.arch} Node ABI ${m.node_abi}\n  signed by ${m.signed_by}, expires ${new Date(m.expires_at).toISOString()}`);
    });
}
