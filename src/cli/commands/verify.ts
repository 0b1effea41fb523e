import type { Command } from 'commander';
import { emit, fail, wantsJson, withHome } from '../context.js';
import { byteProgress, progressEnabled } from '../progress.js';
import { onInterrupt } from '../interrupt.js';
import { verifyStore } from '../../ingest/verify.js';
import { withOfflineCell } from '../cell.js';
import { repairObjects, type RepairReport } from '../../sync/repair.js';
import { getObject, recordObject } from '../../store/catalog.js';
import { manifestHashes } from '../../ingest/files.js';

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('re-hash every stored object; report corrupt and missing ones')
    .option('--repair', 'fetch corrupt and missing objects back from peers')
    .action(async (opts: { repair?: boolean }, cmd: Command) => {
      await withHome(cmd, async (home) => {
        const json = wantsJson(cmd);
        let bar: ReturnType<typeof byteProgress> | undefined;
        const interrupt = onInterrupt();
        let report;
        try {
          report = await verifyStore(home, {
            signal: interrupt.signal,
            onProgress: (done, total) => {
              bar ??= byteProgress({ enabled: progressEnabled(json), total, label: 'verifying', unit: 'objects' });
              bar.add(1);
              if (done === total) bar.stop();
            },
          });
        } finally {
          bar?.stop();
          interrupt.dispose();
        }
        const r = report;
        const bad = [...r.corrupt, ...r.missing];
        let repair: RepairReport | undefined;
        if (opts.repair && bad.length) repair = await repairFromPeers(cmd, bad);
        emit(cmd, { checked: r.checked, corrupt: r.corrupt, missing: r.missing, unrecorded: r.unrecorded, ...(repair ? { repaired: repair.repaired, failed: repair.failed } : {}) }, () => {
          const lines = [`checked ${r.checked} objects: ${r.corrupt.length} corrupt, ${r.missing.length} missing`];
          for (const h of r.corrupt) lines.push(`corrupt ${h}`);
          for (const h of r.missing) lines.push(`missing ${h}`);
          if (r.unrecorded.length) lines.push(`${r.unrecorded.length} object files on disk are not in the catalog (left by an interrupted add?)`);
          if (repair) {
            lines.push(`repaired ${repair.repaired.length} from peers`);
            for (const f of repair.failed) lines.push(`could not repair ${f.hash}: ${f.error}`);
          }
          return lines.join('\n');
        });
        if (bad.length && (!repair || repair.failed.length)) fail(1);
      });
    });
}

/** Fetches each bad object back from a peer that holds it (hash-checked, atomically replaced). */
async function repairFromPeers(cmd: Command, hashes: string[]): Promise<RepairReport> {
  return withOfflineCell(cmd, async (cell) => {
    const report = await repairObjects({ ...cell.sync.fetch(), objects: cell.home.objects }, hashes);
    const manifests = manifestHashes(cell.home.db);
    for (const hash of report.repaired) {
      const row = getObject(cell.home.db, hash);
      if (row?.present === 1) continue;
      const size = (await cell.home.objects.size(hash)) ?? 0;
      recordObject(cell.home.db, { hash, size, kind: row?.kind ?? (manifests.has(hash) ? 'manifest' : 'chunk'), owner: row?.owner ?? cell.id }, Date.now());
    }
    return report;
  });
}
