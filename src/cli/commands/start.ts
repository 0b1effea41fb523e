import type { Command } from 'commander';
import { createCell } from '../../cell.js';
import { homePaths } from '../../home/paths.js';
import { loadConfig } from '../../home/config.js';
import { createDaemonLogger } from '../../daemon/logger.js';
import { describeError, usage } from '../../errors.js';
import { emit, homeDir } from '../context.js';

// `grove start`: the cell in the foreground (peer API + control socket + background loops).
// SIGTERM/SIGINT stop it cleanly (exit 0); a second signal during shutdown exits at once.

function parsePort(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,5}$/.test(v) || Number(v) > 65535) throw usage(`--port must be a port number (0-65535), not ${v}`);
  return Number(v);
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run the cell in the foreground: peer API, control socket, probes')
    .option('--port <port>', 'peer API port (default: config api.port, 7420)')
    .option('--host <host>', 'peer API address (default: config api.host, 0.0.0.0)')
    .option('--set-aside-objects', 'placement.db was lost: move chunks/ to trash/ and start empty (then pair and `grove restore`)')
    .option('--dashboard-port <port>', 'web dashboard port (default: config dashboard.port, 7421; 0 picks a free one)')
    .option('--dashboard-host <host>', 'web dashboard address (default: config dashboard.host, 127.0.0.1)')
    .action(async (opts: { port?: string; host?: string; setAsideObjects?: boolean; dashboardPort?: string; dashboardHost?: string }, cmd: Command) => {
      const root = homeDir(cmd);
      const paths = homePaths(root);
      const port = parsePort(opts.port);
      const config = loadConfig(paths.config);
      const logs = createDaemonLogger({ logsDir: paths.logs, level: config.log.level });
      const log = logs.log;
      let cell;
      try {
        const dashboard = { port: parsePort(opts.dashboardPort) ?? config.dashboard.port, host: opts.dashboardHost ?? config.dashboard.host };
        cell = await createCell({ home: root, port, host: opts.host, logger: log, dashboard, checkDb: true, ...(opts.setAsideObjects ? { setAsideObjects: true } : {}) });
        await cell.start();
      } catch (e) {
        await cell?.stop();
        await logs.close(); // the error itself is printed by main() as one line

        throw e;
      }
      const onFatal = (e: unknown) => {
        log.fatal({ err: e }, `fatal: ${describeError(e)}`);
        process.stderr.write(`grove: fatal: ${describeError(e)}\n`);
        process.exit(1);
      };
      process.on('uncaughtException', onFatal);
      process.on('unhandledRejection', onFatal);

      // A signal, or the cell asking its watchdog for something (src/watchdog/exit-codes.ts).
      // Listened for before the line that says the cell is up: whoever reads it may signal at
      // once, and a signal with no handler yet would kill the process instead of stopping it.
      const stopRequest = new Promise<NodeJS.Signals | number>((resolve) => {
        process.once('SIGTERM', () => resolve('SIGTERM'));
        process.once('SIGINT', () => resolve('SIGINT'));
        cell.updates.onExitRequest(resolve);
      });
      const dashboardUrl = cell.dashboard?.url ?? null;
      emit(cmd, { id: cell.id, name: cell.config.name, api_url: cell.apiUrl, routes: cell.routes(), pid: process.pid, dashboard_url: dashboardUrl },
        `grove cell ${cell.config.name}\n  id:      ${cell.id}\n  api:     ${cell.apiUrl}\n  routes:  ${cell.routes().join(' ')}\n  home:    ${root}` +
        `\n  dashboard: ${dashboardUrl} (log in with the password from \`grove init\`, or set one with \`grove passwd\`)`);
      const signal = await stopRequest;
      const force = () => {
        process.stderr.write('grove: second signal, exiting without a clean shutdown\n');
        process.exit(1);
      };
      process.once('SIGTERM', force);
      process.once('SIGINT', force);
      log.info({ signal }, 'shutting down');
      await cell.stop();
      await logs.close();
      const code = typeof signal === 'number' ? signal : 0;
      process.exitCode = code;
      // Anything still holding the event loop open must not keep a stopped cell alive.
      setTimeout(() => process.exit(code), 3000).unref();
    });
}
