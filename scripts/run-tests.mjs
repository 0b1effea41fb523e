// Runs the compiled tests with Node's test runner. Node 20 does not expand globs itself,
// so we list the files here. `unit` runs only dist/src/**/*.test.js and dist/test/unit.
//
// A test file whose process never exits (a handle left open after its last test) would stall
// the run without a word; past GROVE_TEST_DEADLINE_S seconds (default 1800) the files still
// running are named, everything is stopped and the run fails.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

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

/** The .test.js files that descendants of `root` are running (Linux /proc; empty elsewhere). */
function runningTestFiles(root) {
  const parent = new Map();
  const cmd = new Map();
  for (const pid of readdirSafe('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(+pid, +stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      cmd.set(+pid, readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0'));
    } catch { /* gone meanwhile */ }
  }
  const descends = (pid) => { for (let p = pid; p > 1; p = parent.get(p) ?? 0) if (p === root) return true; return false; };
  return [...cmd].filter(([pid]) => pid !== root && descends(pid)).flatMap(([, argv]) => argv.filter((a) => a.endsWith('.test.js')));
}
function readdirSafe(dir) { try { return readdirSync(dir); } catch { return []; } }

const child = spawn(process.execPath, args, { stdio: 'inherit', detached: true });
const deadlineS = Number(process.env.GROVE_TEST_DEADLINE_S ?? 1800);
const deadline = setTimeout(() => {
  const files = runningTestFiles(child.pid);
  console.error(`\nThe tests did not finish within ${deadlineS} s. Still running: ${files.join(', ') || '(unknown)'}.`);
  console.error('A test file that reported all its tests but does not exit holds an open handle (a watcher, socket or timer).');
  try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
  process.exit(1);
}, deadlineS * 1000);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { try { process.kill(-child.pid, sig); } catch { /* gone */ } });
child.on('exit', (code, signal) => {
  clearTimeout(deadline);
  process.exit(code ?? (signal ? 1 : 0));
});
