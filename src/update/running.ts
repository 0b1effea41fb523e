import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GROVE_VERSION } from '../build.js';
import { isHash } from '../crypto/encoding.js';

// The build this process runs: its version (package.json) and, when it was installed from a
// bundle, its build_hash (the BUILD_HASH file the installer writes beside the tree; a tree
// run from a checkout has none and reports null).

/** The installation root of the running code (dist/src/update/running.js → ../../../). */
export const INSTALL_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export const BUILD_HASH_FILE = 'BUILD_HASH';

export interface RunningBuild {
  version: string;
  build_hash: string | null;
}

export function readBuildHash(root: string): string | null {
  try {
    const h = readFileSync(`${root.replace(/\/$/, '')}/${BUILD_HASH_FILE}`, 'utf8').trim();
    return isHash(h) ? h : null;
  } catch {
    return null;
  }
}

export function runningBuild(): RunningBuild {
  return { version: GROVE_VERSION, build_hash: readBuildHash(INSTALL_ROOT) };
}
