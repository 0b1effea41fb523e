import assert from 'node:assert/strict';
import { cp, mkdir, readFile, symlink, writeFile, copyFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { runGrove } from './ingest.js';
import { CLI_ENV } from './cli.js';

// Release fixtures for the update tests: copies of this built installation at another
// version (dist/src and bin copied, node_modules linked: the packer follows the link and
// packs real files), and the real `grove release` commands.

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A copy of this installation at `version`; `broken` makes every grove command exit 1. */
export async function makeInstallation(dir: string, version: string, opts: { broken?: boolean } = {}): Promise<string> {
  await mkdir(join(dir, 'dist'), { recursive: true });
  await cp(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
  await cp(join(ROOT, 'dist', 'src'), join(dir, 'dist', 'src'), { recursive: true });
  await copyFile(join(ROOT, 'package-lock.json'), join(dir, 'package-lock.json'));
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  await writeFile(join(dir, 'package.json'), JSON.stringify({ ...pkg, version }, null, 2) + '\n');
  await symlink(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  if (opts.broken) {
    const main = join(dir, 'dist', 'src', 'cli', 'main.js');
    await writeFile(main, `process.stderr.write('this build is broken\\n');\nprocess.exit(1);\n${await readFile(main, 'utf8')}`);
  }
  return dir;
}

/** Runs a grove command that needs no home (`release …`) with --json and parses it. */
export async function groveOk<T>(args: string[], home = '/nonexistent-grove-home'): Promise<T> {
  const r = await runGrove(home, ['--json', ...args], { env: CLI_ENV });
  assert.equal(r.code, 0, `grove ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export async function keygen(file: string): Promise<string> {
  return (await groveOk<{ public_key: string }>(['release', 'keygen', '--out', file])).public_key;
}

export interface BuiltBundle { version: string; build_hash: string; bundle: string; signed_by: string; size: number }

export async function buildRelease(from: string, key: string, out: string, extra: string[] = []): Promise<BuiltBundle> {
  return groveOk<BuiltBundle>(['release', 'build', '--from', from, '--key', key, '--out', out, ...extra]);
}
