import type { FSWatcher } from 'chokidar';

/**
 * Closes a chokidar watcher so that it stays closed.
 *
 * chokidar 4.0.3 (and 5.0.0) can reopen a closed watcher: when the last file of a removed
 * directory is handled just after `close()` (its `stat` was already under way), chokidar calls its
 * own `add()` to wait for the path to come back, and `add()` clears the closed flag. It then
 * watches the parent directory with an `fs.watch` that nothing ever closes: an inotify watch
 * leaked per vanished root, and a process that never exits. That is exactly what a watched root
 * removed as a whole (an unmount, an `rm -r`) followed by a pause or a stop does. A watcher
 * closed here can add nothing any more.
 */
export async function closeForGood(w: FSWatcher): Promise<void> {
  w.add = () => w;
  await w.close();
}
