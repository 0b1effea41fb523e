// Which names a watched folder skips (temporary and editor files). Patterns are matched
// against the base name of a file or directory: `*` is any run of characters, `?` one
// character, everything else literal. Pure; no I/O.

export const DEFAULT_IGNORE: readonly string[] = [
  '*.swp', '*.swx', '~$*', '*.part', '*.crdownload', '*.tmp', '.#*', '*~', '.~lock.*#', '.grove-tmp-*',
];

/** At most this many patterns (config `watch.ignore`), each at most 200 characters. */
export const MAX_PATTERNS = 200;

function globToRegExp(glob: string): RegExp {
  let re = '^';
  for (const ch of glob) {
    if (ch === '*') re += '.*';
    else if (ch === '?') re += '.';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$', 's');
}

/** A predicate over base names built from glob patterns. */
export function ignoreMatcher(patterns: readonly string[]): (name: string) => boolean {
  const res = patterns.slice(0, MAX_PATTERNS).filter((p) => p.length > 0 && p.length <= 200).map(globToRegExp);
  return (name) => res.some((r) => r.test(name));
}
