import type { FileHandle } from 'node:fs/promises';

/**
 * Reads `len` bytes at `position` into the start of `into`, looping over short reads.
 * Returns the bytes read: fewer than `len` only when the file ends first.
 */
export async function readFully(fh: FileHandle, into: Uint8Array, len: number, position = 0): Promise<number> {
  const view = into.subarray(0, len);
  let off = 0;
  while (off < len) {
    const { bytesRead } = await fh.read(view, off, len - off, position + off);
    if (bytesRead === 0) break;
    off += bytesRead;
  }
  return off;
}
