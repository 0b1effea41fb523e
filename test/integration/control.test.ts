import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import { startCells, pairCells, stopCell, restartCell } from '../helpers/cells.js';
import { homePaths } from '../../src/home/paths.js';
import { callControl } from '../../src/daemon/control-client.js';
import { createCell, type CellStatus } from '../../src/cell.js';
import { GroveError } from '../../src/errors.js';

// The local control interface (control.sock) and the single-instance guarantee.

const isCode = (code: string) => (e: unknown) => e instanceof GroveError && e.code === code;

test('a running cell answers status on its control socket (mode 600), and cleans up on stop', async (t) => {
  const [a, b] = await startCells(t, 2);
  await pairCells(a!, b!);
  await a!.cell.home.objects.put(Buffer.from('x'));
  const paths = homePaths(a!.root);
  const st = lstatSync(paths.control);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o777, 0o600);
  assert.equal(readFileSync(paths.pid, 'utf8').trim(), String(process.pid));
  const s = await callControl<CellStatus>(paths, 'status');
  assert.equal(s.running, true);
  assert.equal(s.id, a!.id);
  assert.equal(s.api_url, a!.url);
  assert.equal(s.peers, 1);
  assert.equal(typeof s.objects, 'number');
  assert.equal(typeof s.bytes, 'number');
  await assert.rejects(callControl(paths, 'no-such-command'), isCode('NOT_FOUND'));
  await stopCell(a!);
  assert.equal(existsSync(paths.control), false, 'socket removed');
  assert.equal(existsSync(paths.pid), false, 'pid file removed');
  await assert.rejects(callControl(paths, 'status'), (e: unknown) => isCode('NOT_RUNNING')(e) && (e as Error).message.includes(`no cell running for ${a!.root}`));
});

test('a second cell on the same home is refused with a clear message', async (t) => {
  const [a] = await startCells(t, 1);
  const second = await createCell({ home: a!.root, host: '127.0.0.1', port: 0 });
  await assert.rejects(second.start(), (e: unknown) => isCode('CONFLICT')(e) && /already running for/.test((e as Error).message) && /pid \d+/.test((e as Error).message));
  await second.stop();
  // The first one is unharmed.
  assert.equal((await callControl<CellStatus>(homePaths(a!.root), 'status')).id, a!.id);
});

test('a stale control socket left by a crashed run is detected and replaced', async (t) => {
  const [a] = await startCells(t, 1);
  await stopCell(a!);
  const paths = homePaths(a!.root);
  // A process that binds the socket and dies without cleaning up (as after a crash).
  const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(paths.control)}, () => process.kill(process.pid, 'SIGKILL'))`]);
  await once(child, 'exit');
  assert.ok(lstatSync(paths.control).isSocket(), 'stale socket present');
  await assert.rejects(callControl(paths, 'status'), isCode('NOT_RUNNING'));
  await restartCell(a!);
  assert.equal((await callControl<CellStatus>(paths, 'status')).id, a!.id);
});
