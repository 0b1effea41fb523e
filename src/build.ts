import { readFileSync } from 'node:fs';

// What this build calls itself on the wire (identity cards, `grove status`). The signed
// build bundle of the auto-updater (docs/design.md §5) will refine this; until then it is the
// package version. Read once from package.json (src/ and dist/src/ both find it).

function readVersion(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'grove' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      /* try the next location */
    }
  }
  return '0.0.0';
}

export const GROVE_VERSION = readVersion();
export const BUILD_LABEL = `grove/${GROVE_VERSION}`;
