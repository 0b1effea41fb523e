import type { Command } from 'commander';
import { termText } from './term.js';

// Output plumbing every command shares: global flags, results in human or --json form. It
// loads nothing else, so commands that need no home (`grove relay`) stay light.

export interface GlobalOptions {
  home?: string;
  json?: boolean;
}

export function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function wantsJson(cmd: Command): boolean {
  return !!globals(cmd).json;
}

/** Prints a result: JSON with --json, else the human text (if any). */
export function emit(cmd: Command, json: unknown, human?: string | (() => string)): void {
  if (wantsJson(cmd)) {
    process.stdout.write(JSON.stringify(json) + '\n');
  } else if (human !== undefined) {
    // Human text may carry peers' names, file names and messages: no raw controls reach the terminal.
    const text = termText(typeof human === 'function' ? human() : human);
    if (text) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  }
}

/** Sets the exit code without exiting, so streams flush. */
export function fail(code = 1): void {
  process.exitCode = code;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}
