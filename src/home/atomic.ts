import { open, rename, unlink, mkdir } from 'node:fs/promises';
import { openSync, writeSync, fsyncSync, closeSync, renameSync, unlinkSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

// docs/design.md §1: every file is written atomically (temp file, fsync, rename). A crash leaves
// the old or the new content, never a torn file. Temp names start with `.tmp-` so a
// sweep can remove leftovers after a crash.

export const TMP_PREFIX = '.tmp-';

export function tempPathFor(path: string): string {
  return join(dirname(path), `${TMP_PREFIX}${basename(path)}.${randomBytes(6).toString('hex')}`);
}

export async function writeFileAtomic(path: string, data: Uint8Array | string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    // A full disk can end a write short: only a complete file may replace the old one.
    const want = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if ((await fh.stat()).size !== want) throw Object.assign(new Error(`short write to ${path}`), { code: 'ENOSPC' });
    await fh.chmod(mode); // umask must not loosen or tighten what docs/design.md §1 fixes
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  await fsyncDir(dirname(path));
}

export function writeFileAtomicSync(path: string, data: Uint8Array | string, mode = 0o644): void {
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, 'wx', mode);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) {
      const n = writeSync(fd, buf, off, buf.length - off);
      if (n <= 0) throw Object.assign(new Error(`short write to ${path}`), { code: 'ENOSPC' });
      off += n;
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDirSync(dirname(path));
}

export async function fsyncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try { await fh.sync(); } finally { await fh.close(); }
  } catch {
    // Some filesystems do not support fsync on directories; the rename is still atomic.
  }
}

export function fsyncDirSync(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch {
    /* see fsyncDir */
  }
}
