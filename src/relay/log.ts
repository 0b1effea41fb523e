// The relay's log: one JSON object per line, in the shape pino writes (`level`, `time`,
// `pid`, the fields, `msg`), so the relay process need not load a logging library for the
// handful of lines it writes. Levels as pino names them; `silent` writes nothing.

export interface RelayLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** A line logger at `level` (unknown names mean info) writing through `write`. */
export function lineLogger(level: string, write: (line: string) => void, clock: () => number = Date.now): RelayLog {
  const min = LEVELS[level] ?? LEVELS.info!;
  const at = (n: number) => (fields: Record<string, unknown>, msg: string) => {
    if (n < min) return;
    write(`${JSON.stringify({ level: n, time: clock(), pid: process.pid, ...fields, msg })}\n`);
  };
  return { info: at(30), warn: at(40) };
}
