import { mkdtemp, rm, open, unlink, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';

// A small filesystem of its own for disk-full tests: a tmpfs mounted on a temp directory
// (needs root). Unmounted and removed after the test.

/** Mounts a tmpfs of `mib` MiB; undefined (and the test skipped, saying why) where it cannot. */
export async function smallDisk(t: TestContext, mib: number): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'grove-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mib}m,mode=700`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    await rm(dir, { recursive: true, force: true });
    t.skip(`cannot mount a tmpfs here (needs root): ${(r.stderr || r.error?.message || '').trim()}`);
    return undefined;
  }
  t.after(async () => {
    spawnSync('umount', ['-l', dir]);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

export async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/**
 * Fills the filesystem of `dir` until only `leaveBytes` are free (0: completely full).
 * Returns a function that frees the space again.
 */
export async function fillDisk(dir: string, leaveBytes: number): Promise<() => Promise<void>> {
  const path = join(dir, `filler-${Date.now()}-${Math.random().toString(16).slice(2)}`);
  const fh = await open(path, 'w');
  const block = Buffer.alloc(1024 * 1024, 0xa5);
  try {
    for (;;) {
      const free = await freeBytes(dir);
      const want = free - leaveBytes;
      if (want <= 0) break;
      try {
        await fh.write(block, 0, Math.min(block.length, want));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw e;
      }
    }
  } finally {
    await fh.close();
  }
  return () => unlink(path).catch(() => {});
}
