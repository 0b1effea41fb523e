import type { Command } from 'commander';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { emit, formatBytes, wantsJson, withHome } from '../context.js';
import { byteProgress, progressEnabled } from '../progress.js';
import { onInterrupt } from '../interrupt.js';
import { resolveFile, type FileVersion } from '../../ingest/files.js';
import { restoreFile } from '../../ingest/restore.js';
import { fileKey } from '../../crypto/kdf.js';
import { corrupt, usage, isGroveError } from '../../errors.js';
import { findHeldGrant } from '../../share/received.js';
import { getShared } from './get-shared.js';
import { lazyPeerFetch } from '../cell.js';

export function registerGet(program: Command): void {
  program
    .command('get')
    .description('restore a file by name, path or manifest hash (verifying every chunk)')
    .argument('<file>', 'file name, absolute path or manifest hash')
    .option('-o, --out <path>', 'where to write it (default ./NAME; a directory means DIR/NAME)')
    .option('--version <n>', 'which version (default: the latest)')
    .option('--force', 'overwrite an existing output file')
    .action(async (target: string, opts: { out?: string; version?: string; force?: boolean }, cmd: Command) => {
      let version: number | undefined;
      if (opts.version !== undefined) {
        version = Number(opts.version);
        if (!/^\d+$/.test(opts.version) || !Number.isSafeInteger(version) || version < 1) throw usage('--version must be a positive integer');
      }
      await withHome(cmd, async (home) => {
        let v: FileVersion;
        try {
          v = resolveFile(home.db, target, version);
        } catch (e) {
          // Not one of our files: maybe one shared with this cell (`grove feed`).
          const held = version === undefined && isGroveError(e) && e.code === 'NOT_FOUND' ? findHeldGrant(home.db, target) : undefined;
          if (!held) throw e;
          return getShared(cmd, held, opts);
        }
        let out = resolve(opts.out ?? v.name);
        if (isDirectory(out)) out = join(out, v.name);
        const bar = byteProgress({ enabled: progressEnabled(wantsJson(cmd)), total: v.size, label: v.name });
        const interrupt = onInterrupt();
        const peers = lazyPeerFetch(cmd);
        try {
          const key = fileKey(home.keys.master, Buffer.from(v.file_hash, 'hex'));
          const r = await restoreFile(home, v.manifest_hash, key, out, {
            force: !!opts.force, signal: interrupt.signal, onProgress: (n) => bar.add(n), fetchObject: peers.fetch,
          });
          if (r.manifest.file_hash !== v.file_hash) throw corrupt(`manifest ${v.manifest_hash} does not describe ${v.path}`);
        } finally {
          bar.stop();
          interrupt.dispose();
          await peers.close();
        }
        emit(cmd, { out, name: v.name, path: v.path, size: v.size, version: v.version, manifest_hash: v.manifest_hash, file_hash: v.file_hash },
          `restored ${v.name} (${formatBytes(v.size)}, version ${v.version}) to ${out}`);
      });
    });
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
