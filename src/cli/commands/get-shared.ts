import type { Command } from 'commander';
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { withOfflineCell } from '../cell.js';
import { emit, formatBytes, wantsJson } from '../context.js';
import { termSafe } from '../term.js';
import { byteProgress, progressEnabled } from '../progress.js';
import { onInterrupt } from '../interrupt.js';
import { restoreShared } from '../../share/get.js';
import type { HeldGrant } from '../../share/received.js';

// `grove get` for a file shared with this cell (a Feed item): the key comes from the grant,
// missing objects from the sharer. Called by get.ts when the name is not one of our files.

export async function getShared(cmd: Command, held: HeldGrant, opts: { out?: string; force?: boolean }): Promise<void> {
  const g = held.grant;
  let out = resolve(opts.out ?? g.filename);
  if (isDirectory(out)) out = join(out, g.filename);
  const bar = byteProgress({ enabled: progressEnabled(wantsJson(cmd)), total: g.total_size, label: termSafe(g.filename) });
  const interrupt = onInterrupt();
  let fileHash: string;
  let from = held.creator.slice(0, 12);
  try {
    const r = await withOfflineCell(cmd, (cell) => {
      from = cell.peers.get(held.creator)?.name ?? from;
      return restoreShared(cell, held, out, { force: !!opts.force, signal: interrupt.signal, onProgress: (n) => bar.add(n) });
    });
    fileHash = r.manifest.file_hash;
  } finally {
    bar.stop();
    interrupt.dispose();
  }
  emit(cmd, { out, name: g.filename, size: g.total_size, manifest_hash: g.manifest_hash, file_hash: fileHash, from: held.creator },
    `restored ${termSafe(g.filename)} (${formatBytes(g.total_size)}, shared by ${termSafe(from)}) to ${termSafe(out)}`);
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}
