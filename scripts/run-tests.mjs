// Runs the compiled tests with Node's test runner. Node 20 does not expand globs itself,
// so we list the files here. `unit` runs only dist/src/**/*.test.js and dist/test/unit.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir, out = []) {
  let entries = [];
  try { entries = readdirSync(dir); } catch { return out; }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.test.js')) out.push(p);
  }
  return out;
}
const which = process.argv[2] ?? 'all';
let files = [...walk('dist/src'), ...walk('dist/test/unit')];
if (which === 'all') files.push(...walk('dist/test/integration'));
if (which === 'integration') files = walk('dist/test/integration');
files.sort();
const args = ['--test', '--test-reporter=spec', `--test-concurrency=${process.env.GROVE_TEST_CONCURRENCY ?? 2}`, ...files];
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
