import type { Command } from 'commander';
import { accessSync, constants, mkdirSync } from 'node:fs';
import { emit, fail, formatBytes, wantsJson, withHome } from '../context.js';
import { byteProgress, progressEnabled } from '../progress.js';
import { onInterrupt } from '../interrupt.js';
import { walkInputs } from '../../ingest/walk.js';
import { ingestBuffers, type AddResult } from '../../ingest/add.js';
import { addMany } from '../../ingest/group.js';
import { SealPool } from '../../ingest/pool.js';
import { markAddRunning, sweepAfterInterruptedAdds } from '../../ingest/interrupted.js';
import type { Home } from '../../home/home.js';
import { GroveError, describeError } from '../../errors.js';

export function registerAdd(program: Command): void {
  program
    .command('add')
    .description('encrypt and store files (directories recursively); a changed file becomes a new version')
    .argument('<paths...>', 'files or directories')
    .action(async (paths: string[], _opts: unknown, cmd: Command) => {
      const json = wantsJson(cmd);
      await withHome(cmd, async (home) => {
        checkWritable(home);
        await sweepAfterInterruptedAdds(home.db, home.objects, { self: process.pid });
        const walked = await walkInputs(paths);
        const errors = [...walked.issues];
        for (const i of walked.issues) warn(i.path, i.error);
        const results: AddResult[] = [];
        const total = walked.files.reduce((n, f) => n + f.size, 0);
        const bar = byteProgress({ enabled: progressEnabled(json), total, label: 'adding' });
        const interrupt = onInterrupt();
        const pool = new SealPool();
        const buffers = ingestBuffers(pool);
        const late: { path: string; error: string }[] = [];
        // Results come as batches commit; they are shown in the order the files were listed.
        const order = new Map(walked.files.map((f, i) => [f.path, i]));
        const done = markAddRunning(home.db, process.pid, Date.now());
        try {
          // Each pass reports its bytes; half of each is one byte of the file done.
          await addMany({ home, pool, buffers, signal: interrupt.signal, onProgress: (_p, n) => bar.add(n / 2) }, walked.files, {
            onResult: (r) => {
              results.push(r);
              bar.label(r.name);
            },
            onError: (path, e) => late.push({ path, error: describeError(e).replace(`: ${path}`, '') }),
          });
          results.sort((a, b) => (order.get(a.path) ?? 0) - (order.get(b.path) ?? 0));
          late.sort((a, b) => (order.get(a.path) ?? 0) - (order.get(b.path) ?? 0));
        } finally {
          bar.stop();
          interrupt.dispose();
          await pool.close();
          done();
        }
        for (const l of late) warn(l.path, l.error);
        errors.push(...late);
        emit(cmd, {
          files: results.map((r) => ({
            path: r.path, name: r.name, size: r.size, file_hash: r.file_hash, manifest_hash: r.manifest_hash,
            version: r.version, chunks: r.chunks, new_chunks: r.new_chunks,
          })),
          errors,
        }, () => results.map(humanLine).join('\n'));
        if (errors.length) fail(1);
      });
    });
}

function humanLine(r: AddResult): string {
  if (r.unchanged && r.new_chunks === 0) return `unchanged ${r.path} (version ${r.version})`;
  if (r.unchanged) return `repaired  ${r.path} (version ${r.version}, ${r.new_chunks} missing chunks rewritten)`;
  return `added     ${r.path} (${formatBytes(r.size)}, version ${r.version}, ${r.chunks} chunks, ${r.new_chunks} new) manifest ${r.manifest_hash}`;
}

function warn(path: string, error: string): void {
  process.stderr.write(`grove: ${path}: ${error}\n`);
}

/** A home we cannot write to is one clear error before any work. */
function checkWritable(home: Home): void {
  try {
    mkdirSync(home.paths.chunks, { recursive: true, mode: 0o755 });
    accessSync(home.paths.chunks, constants.W_OK | constants.X_OK);
  } catch {
    throw new GroveError('FORBIDDEN', `cannot write to ${home.paths.chunks}: check its owner and permissions`);
  }
}
