import type { Command } from 'commander';
import { homePaths } from '../../home/paths.js';
import { callControl } from '../../daemon/control-client.js';
import type { CellStatus } from '../../cell.js';
import { GroveError } from '../../errors.js';
import { emit, formatBytes, homeDir, wantsJson } from '../context.js';
import { diskWarning } from '../../guard/status.js';

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('ask the running cell how it is (exit 1 when none runs)')
    .action(async (_opts: unknown, cmd: Command) => {
      const root = homeDir(cmd);
      let s: CellStatus;
      try {
        s = await callControl<CellStatus>(homePaths(root), 'status', {}, { timeoutMs: 10_000 });
      } catch (e) {
        if (e instanceof GroveError && e.code === 'NOT_RUNNING' && wantsJson(cmd)) {
          process.stdout.write(JSON.stringify({ running: false, home: root }) + '\n');
        }
        throw e;
      }
      emit(cmd, s, [
        `cell ${s.name} is running (pid ${s.pid})`,
        `  id:       ${s.id}`,
        `  api:      ${s.api_url}`,
        `  peers:    ${s.peers}`,
        `  objects:  ${s.objects} (${formatBytes(s.bytes)})`,
        `  at risk:  ${s.at_risk} objects below the replication factor`,
        ...[diskWarning(s.disk, formatBytes)].filter((l) => l !== undefined),
        ...(s.watch ?? []).map((f) => `  watching: ${f.root} (${f.state}${f.scan ? `, scan ${f.scan.files_done}/${f.scan.files_total} files` : ''})${f.note ? `: ${f.note}` : ''}`),
        ...(s.dashboard_url ? [`  dashboard: ${s.dashboard_url}`] : []),
      ].join('\n'));
    });
}
