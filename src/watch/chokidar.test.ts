import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watch } from 'chokidar';
import { closeForGood } from './chokidar.js';

const watchers = () => process.getActiveResourcesInfo().filter((r) => r === 'FSEventWrap').length;

/** Closes every fs.watch handle of this process (none other is open in this file). */
function closeLeaked(): void {
  const handles = (process as unknown as { _getActiveHandles(): { constructor: { name: string }; close?: () => void }[] })._getActiveHandles();
  for (const h of handles) if (h.constructor.name === 'FSWatcher') h.close?.();
}

/** Resolves once no file-system request is under way over a few turns of the loop: every late callback has run. */
async function quiet(): Promise<void> {
  for (let calm = 0; calm < 3;) {
    await new Promise<void>((r) => setImmediate(r));
    calm = process.getActiveResourcesInfo().some((r) => r.startsWith('FSReq')) ? 0 : calm + 1;
  }
}

test('a watcher closed right after its root was removed watches nothing afterwards', async () => {
  const before = watchers();
  // The late re-add needs a stat to be under way at close: without the guard, one of the first
  // few rounds of this leaks an fs.watch on the temp directory.
  for (let round = 0; round < 30; round++) {
    const dir = await mkdtemp(join(tmpdir(), 'grove-chokidar-'));
    for (let i = 0; i < 12; i++) await writeFile(join(dir, `f${i}`), 'x');
    const w = watch(dir, { ignoreInitial: true, followSymlinks: false });
    await new Promise<void>((r) => w.once('ready', () => r()));
    await rm(dir, { recursive: true });
    for (let i = 0; i < round % 4; i++) await new Promise<void>((r) => setImmediate(r));
    await closeForGood(w);
    await quiet();
    if (watchers() !== before) {
      closeLeaked(); // so that a failure ends the test file instead of hanging it
      assert.fail(`round ${round}: an fs.watch outlived its closed watcher`);
    }
  }
});
