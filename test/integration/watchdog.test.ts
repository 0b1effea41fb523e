import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir, runGrove, waitFor } from '../helpers/ingest.js';
import { CLI_ENV } from '../helpers/cli.js';
import { startWatchdog, statusOf, alive, watchdogSawUp, FAST } from '../helpers/watchdog.js';
import { homePaths } from '../../src/home/paths.js';

// `grove watchdog` with real processes (docs/operations.md "The watchdog"): a killed cell is
// restarted, a hung one is detected and replaced, repeated crashes make it give up, SIGTERM
// stops everything cleanly.

async function newHome(t: import('node:test').TestContext): Promise<string> {
  const root = join(await tempDir(t, 'grove-wd-'), 'home');
  const r = await runGrove(root, ['init'], { env: CLI_ENV });
  assert.equal(r.code, 0, r.stderr);
  return root;
}

async function crashLogs(home: string): Promise<string[]> {
  return (await readdir(homePaths(home).logs)).filter((n) => /^crash-.*\.log$/.test(n));
}

test('a SIGKILLed cell is restarted; status reports supervision; SIGTERM stops cleanly', async (t) => {
  const home = await newHome(t);
  const wd = startWatchdog(t, home);
  const first = await waitFor(() => statusOf(home), 'the supervised cell to answer', 30_000, 100);
  assert.equal(first.supervised, true);
  assert.equal(first.restarts, 0);
  assert.equal(first.version, JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')).version);
  assert.equal(first.build_hash, null, 'a checkout has no build hash');

  process.kill(first.pid, 'SIGKILL');
  const second = await waitFor(async () => {
    const s = await statusOf(home);
    return s && s.pid !== first.pid ? s : undefined;
  }, 'a new cell after SIGKILL', 30_000, 100);
  assert.equal(second.restarts, 1);
  assert.equal(second.supervised, true);
  const logs = await crashLogs(home);
  assert.equal(logs.length, 1, 'one crash log');
  const text = await readFile(join(homePaths(home).logs, logs[0]!), 'utf8');
  assert.match(text, /signal SIGKILL/);
  assert.match(text, /cell started/, 'the last lines of the crashed cell are kept');

  assert.equal(await wd.stop(), 0, wd.output());
  assert.equal(alive(second.pid), false, 'the cell stopped with the watchdog');
  assert.equal(existsSync(homePaths(home).control), false, 'the cell shut down cleanly (control socket removed)');
  assert.match(wd.output(), /shutting down/);
});

test('a hung cell (SIGSTOP) is killed and restarted', async (t) => {
  const home = await newHome(t);
  const wd = startWatchdog(t, home);
  const first = await waitFor(() => statusOf(home), 'the supervised cell to answer', 30_000, 100);
  await watchdogSawUp(wd, first.pid); // it knows the cell as healthy: silence now means hung
  process.kill(first.pid, 'SIGSTOP');
  t.after(() => { if (alive(first.pid)) process.kill(first.pid, 'SIGKILL'); });
  const second = await waitFor(async () => {
    const s = await statusOf(home);
    return s && s.pid !== first.pid ? s : undefined;
  }, 'a new cell after the hang', 30_000, 100);
  assert.equal(second.restarts, 1);
  assert.equal(alive(first.pid), false, 'the hung cell was killed');
  assert.match(wd.output(), /has not answered for \d+ ms; killing it/);
  assert.equal((await crashLogs(home)).length, 1);
  assert.equal(await wd.stop(), 0);
});

test('the watchdog gives up after 5 crashes within the window, with a clear message', async (t) => {
  const home = await newHome(t);
  const wd = startWatchdog(t, home, [...FAST, '--crash-window-ms', '60000']);
  const first = await waitFor(() => statusOf(home), 'the supervised cell to answer', 30_000, 100);
  // From now on every start fails: the database is not a database.
  await writeFile(homePaths(home).db, 'not a database, so `grove start` fails at once');
  for (const f of ['-wal', '-shm']) await writeFile(homePaths(home).db + f, '').catch(() => {});
  process.kill(first.pid, 'SIGKILL');
  const code = await wd.exited;
  assert.equal(code, 3, wd.output());
  assert.match(wd.output(), /crashed 5 times within 60 s; giving up \(last output in .*crash-.*\.log\)/);
  assert.equal((await crashLogs(home)).length >= 5, true, 'a crash log per crash');
});
