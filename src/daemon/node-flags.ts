import { readFileSync } from 'node:fs';

// The Node options `bin/grove` runs with live in one place, its first line
// (`#!/usr/bin/env -S node --max-semi-space-size=4`), so that `./bin/grove start` gets them from
// the kernel. Whatever starts grove through `node` itself instead (the watchdog, with the
// release it runs; the benchmarks) reads them from there, so every cell runs alike.

/** Node options a `#!` line asks for: only `--name` or `--name=value` words after `node`. */
export function parseShebang(line: string): string[] {
  const m = /^#!\S*\benv\s+(?:-S\s+)?node((?:\s+--[A-Za-z0-9-]+(?:=[A-Za-z0-9._-]+)?)*)\s*$/.exec(line);
  return m ? m[1]!.trim().split(/\s+/).filter(Boolean) : [];
}

/** The Node options of a script's `#!` line; none if it has none or cannot be read. */
export function nodeFlagsOf(script: string): string[] {
  try {
    return parseShebang(readFileSync(script, 'utf8').split('\n', 1)[0]!);
  } catch {
    return [];
  }
}
