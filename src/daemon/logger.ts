import { pino, multistream, type Logger, type Level } from 'pino';
import { createStream } from 'rotating-file-stream';
import { mkdirSync } from 'node:fs';
import { once } from 'node:events';

// The daemon's structured log (pino): JSON lines to stderr and to HOME/logs/grove.log,
// rotated at 10 MB, 5 files kept.

export type LogLevel = Level | 'silent';

export interface DaemonLogger {
  log: Logger;
  /** Flushes and closes the log file. */
  close(): Promise<void>;
}

export function createDaemonLogger(opts: { logsDir: string; level: LogLevel; stderr?: boolean; maxFiles?: number; size?: string }): DaemonLogger {
  mkdirSync(opts.logsDir, { recursive: true, mode: 0o755 });
  const file = createStream('grove.log', { path: opts.logsDir, size: opts.size ?? '10M', maxFiles: opts.maxFiles ?? 5, mode: 0o644 });
  let fileError: unknown;
  file.on('error', (e) => {
    fileError = e; // reported once on stderr; the cell keeps running on stderr logging
    process.stderr.write(`grove: cannot write the log file in ${opts.logsDir}: ${(e as Error).message}\n`);
  });
  const level: Level = opts.level === 'silent' ? 'fatal' : opts.level;
  const streams: { level: Level; stream: NodeJS.WritableStream }[] = [{ level, stream: file }];
  if (opts.stderr !== false) streams.push({ level, stream: process.stderr });
  const log = pino({ level: opts.level, base: { pid: process.pid } }, multistream(streams));
  return {
    log,
    close: async () => {
      if (fileError || file.destroyed) return;
      const closed = once(file, 'finish').catch(() => undefined);
      file.end();
      await closed;
    },
  };
}
