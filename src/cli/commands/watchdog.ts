import type { Command } from 'commander';
import { Option } from 'commander';
import { homePaths } from '../../home/paths.js';
import { loadConfig } from '../../home/config.js';
import { homeDir } from '../context.js';
import { GroveError, usage } from '../../errors.js';
import { socketAlive } from '../../daemon/control.js';
import { Watchdog } from '../../watchdog/supervisor.js';
import { DEFAULT_RESTART_POLICY } from '../../watchdog/policy.js';
import { INSTALL_ROOT } from '../../update/running.js';

// `grove watchdog`: supervises `grove start` (docs/operations.md "The watchdog"). The
// hidden timing options exist for tests and impatient operators.

function ms(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,9}$/.test(v)) throw usage(`--${name} must be a number of milliseconds`);
  return Number(v);
}

const hidden = (flag: string, what: string) => new Option(flag, what).hideHelp();

export function registerWatchdog(program: Command): void {
  program
    .command('watchdog')
    .description('run the cell under a supervisor: restarts, health checks, updates with rollback')
    .option('--port <port>', 'peer API port, passed to `grove start`')
    .option('--host <host>', 'peer API address, passed to `grove start`')
    .option('--dashboard-port <port>', 'web dashboard port, passed to `grove start`')
    .option('--dashboard-host <host>', 'web dashboard address, passed to `grove start`')
    .addOption(hidden('--backoff-ms <ms>', 'first restart delay'))
    .addOption(hidden('--backoff-max-ms <ms>', 'largest restart delay'))
    .addOption(hidden('--crash-window-ms <ms>', 'window for counting crashes'))
    .addOption(hidden('--health-interval-ms <ms>', 'status check period'))
    .addOption(hidden('--health-timeout-ms <ms>', 'how long one status check may take'))
    .addOption(hidden('--hung-ms <ms>', 'kill a cell silent this long'))
    .addOption(hidden('--startup-ms <ms>', 'time to first answer'))
    .addOption(hidden('--probation-ms <ms>', 'time for a new build to come up'))
    .addOption(hidden('--settle-ms <ms>', 'time a new build must stay healthy'))
    .action(async (opts: Record<string, string | undefined>, cmd: Command) => {
      const home = homeDir(cmd);
      loadConfig(homePaths(home).config); // a broken config is an error here, not a crash loop
      if (await socketAlive(homePaths(home).control)) throw new GroveError('CONFLICT', `a cell is already running for ${home}; stop it before starting its watchdog`);
      const startArgs = [
        ...(opts.port ? ['--port', opts.port] : []), ...(opts.host ? ['--host', opts.host] : []),
        ...(opts.dashboardPort ? ['--dashboard-port', opts.dashboardPort] : []), ...(opts.dashboardHost ? ['--dashboard-host', opts.dashboardHost] : []),
      ];
      const stop = new AbortController();
      const onSignal = (sig: NodeJS.Signals) => {
        if (stop.signal.aborted) return;
        process.stderr.write(`grove watchdog: ${sig}: stopping the cell\n`);
        stop.abort();
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      const health = {
        intervalMs: ms(opts.healthIntervalMs, 'health-interval-ms'), timeoutMs: ms(opts.healthTimeoutMs, 'health-timeout-ms'), hungMs: ms(opts.hungMs, 'hung-ms'),
        startupMs: ms(opts.startupMs, 'startup-ms'),
      };
      const dog = new Watchdog({
        home,
        baseRoot: INSTALL_ROOT.replace(/\/$/, ''),
        startArgs,
        policy: {
          ...DEFAULT_RESTART_POLICY,
          initialBackoffMs: ms(opts.backoffMs, 'backoff-ms') ?? DEFAULT_RESTART_POLICY.initialBackoffMs,
          maxBackoffMs: ms(opts.backoffMaxMs, 'backoff-max-ms') ?? DEFAULT_RESTART_POLICY.maxBackoffMs,
          windowMs: ms(opts.crashWindowMs, 'crash-window-ms') ?? DEFAULT_RESTART_POLICY.windowMs,
        },
        health: Object.fromEntries(Object.entries(health).filter(([, v]) => v !== undefined)),
        probation: Object.fromEntries(Object.entries({ timeoutMs: ms(opts.probationMs, 'probation-ms'), settleMs: ms(opts.settleMs, 'settle-ms') }).filter(([, v]) => v !== undefined)),
        log: (line) => process.stderr.write(`grove watchdog: ${line}\n`),
        stdout: process.stdout,
        stderr: process.stderr,
        signal: stop.signal,
      });
      process.exitCode = await dog.run();
    });
}
