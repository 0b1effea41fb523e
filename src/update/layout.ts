import { join } from 'node:path';

// Where updates live in a home (docs/updates.md "In the home").

export interface UpdatePaths {
  /** HOME/update: state.json and verified bundles. */
  dir: string;
  state: string;
  bundles: string;
  /** HOME/builds: one extracted tree per installed build, `current` and `previous` links. */
  builds: string;
  current: string;
  previous: string;
}

export function updatePaths(home: string): UpdatePaths {
  const dir = join(home, 'update');
  const builds = join(home, 'builds');
  return {
    dir,
    state: join(dir, 'state.json'),
    bundles: join(dir, 'bundles'),
    builds,
    current: join(builds, 'current'),
    previous: join(builds, 'previous'),
  };
}

export function bundlePath(p: UpdatePaths, buildHash: string): string {
  return join(p.bundles, `${buildHash}.bundle`);
}
