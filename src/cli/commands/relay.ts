import type { Command } from 'commander';
import { RelayServer } from '../../relay/server.js';
import { lineLogger } from '../../relay/log.js';
import { exposeCollector } from '../../relay/collect.js';
import { isCellId } from '../../crypto/encoding.js';
import { usage } from '../../errors.js';
import { emit } from '../output.js';

// `grove relay`: runs a relay server in the foreground (docs/protocol.md "Relay"). Needs no
// home: a relay holds no keys and stores nothing. SIGTERM/SIGINT stop it. It loads only the
// relay and `ws` (no home, database or logging library): its memory is the streams it carries.

export function registerRelay(program: Command): void {
  program
    .command('relay')
    .description('run a WebSocket relay for cells behind NAT (forwards encrypted bytes only)')
    .option('--host <host>', 'listen address', '0.0.0.0')
    .option('--port <port>', 'listen port', '7430')
    .option('--allow <ids>', 'private relay: comma-separated cell IDs allowed to use it')
    .option('--token <token>', 'private relay: shared token cells must present (or $GROVE_RELAY_TOKEN)')
    .option('--per-ip <n>', 'WebSocket connections allowed per client IP (default 64)')
    .option('--cell-rate <MiB/s>', 'bytes forwarded per second for one cell (default 64)')
    .option('--total-rate <MiB/s>', 'bytes forwarded per second in all (default 256)')
    .option('--public-url <urls>', 'comma-separated ws:// URLs cells dial this relay by (binds their signatures)')
    .action(async (opts: { host: string; port: string; allow?: string; token?: string; publicUrl?: string; perIp?: string; cellRate?: string; totalRate?: string }, cmd: Command) => {
      if (!/^\d{1,5}$/.test(opts.port) || Number(opts.port) > 65535) throw usage(`--port must be a port number, not ${opts.port}`);
      if (opts.perIp !== undefined && (!/^\d{1,6}$/.test(opts.perIp) || Number(opts.perIp) < 1)) throw usage('--per-ip must be a positive number');
      const rate = (v: string | undefined, flag: string) => {
        if (v === undefined) return undefined;
        if (!/^\d{1,6}$/.test(v) || Number(v) < 1) throw usage(`${flag} must be a positive number of MiB/s`);
        return Number(v) * 1024 * 1024;
      };
      const cellBytesPerSec = rate(opts.cellRate, '--cell-rate');
      const totalBytesPerSec = rate(opts.totalRate, '--total-rate');
      const limits = {
        ...(opts.perIp !== undefined ? { perIp: Number(opts.perIp) } : {}),
        ...(cellBytesPerSec ? { cellBytesPerSec } : {}),
        ...(totalBytesPerSec ? { totalBytesPerSec } : {}),
      };
      const allow = opts.allow?.split(',').map((s) => s.trim()).filter(Boolean);
      if (allow?.some((id) => !isCellId(id))) throw usage('--allow takes cell IDs');
      const token = opts.token ?? process.env.GROVE_RELAY_TOKEN;
      const publicUrls = opts.publicUrl?.split(',').map((s) => s.trim().replace(/\/$/, '').toLowerCase()).filter(Boolean);
      const log = lineLogger(process.env.GROVE_RELAY_LOG ?? 'info', (line) => process.stderr.write(line));
      const collect = exposeCollector();
      const relay = new RelayServer({ host: opts.host, port: Number(opts.port), log, limits, ...(collect ? { collect } : {}), ...(allow ? { allow } : {}), ...(token ? { token } : {}), ...(publicUrls ? { publicUrls } : {}) });
      const url = await relay.start();
      // The handlers go in before the line that says we are up: whoever reads it may signal at
      // once, and a signal with no handler yet would kill the process instead of stopping it.
      const stopped = new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGTERM', stop);
        process.once('SIGINT', stop);
      });
      emit(cmd, { url, pid: process.pid, max_connections: relay.connectionCap, private: !!(allow || token) }, `grove relay listening on ${url}`);
      await stopped;
      await relay.stop();
    });
}
