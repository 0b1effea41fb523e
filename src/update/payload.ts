import { badInput } from '../errors.js';

// The bundle payload (docs/updates.md "Payload"): a flat, sorted list of files, each
//   u16be path_len | path (UTF-8) | u8 mode (0 = 0644, 1 = 0755) | u64be size | size bytes
// Paths are relative, '/'-separated, unique and in strictly increasing byte order, so the
// same tree always gives the same bytes (no mtimes, owners or directories are recorded).

export const MAX_PATH_BYTES = 1024;
export const MAX_ENTRIES = 100_000;
export const ENTRY_HEAD_BYTES = 2; // then path, then 1 + 8

export interface PayloadEntry {
  path: string;
  executable: boolean;
  size: number;
}

/** Throws BAD_INPUT unless `p` is a safe relative path (no '', '.', '..', absolute, NUL, '\'). */
export function checkEntryPath(p: string): void {
  const bytes = Buffer.byteLength(p, 'utf8');
  if (bytes === 0 || bytes > MAX_PATH_BYTES) throw badInput('bundle entry: bad path length');
  if (p.includes('\0') || p.includes('\\') || p.startsWith('/')) throw badInput('bundle entry: bad path');
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.' || seg === '..' || Buffer.byteLength(seg) > 255) throw badInput('bundle entry: bad path');
  }
}

/** Byte order of UTF-8 paths: the payload's sort order. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

export function encodeEntryHeader(e: PayloadEntry): Buffer {
  checkEntryPath(e.path);
  const path = Buffer.from(e.path, 'utf8');
  const head = Buffer.alloc(2 + path.length + 1 + 8);
  head.writeUInt16BE(path.length, 0);
  path.copy(head, 2);
  head.writeUInt8(e.executable ? 1 : 0, 2 + path.length);
  head.writeBigUInt64BE(BigInt(e.size), 3 + path.length);
  return head;
}

/**
 * Incremental parser of a payload: feed it bytes, it calls `onEntry` at each header and
 * `onData` with each piece of file content. Checks order, uniqueness, path safety, counts
 * and that nothing is truncated (`end()`).
 */
export class PayloadParser {
  private buf = Buffer.alloc(0);
  private remaining = 0; // content bytes left of the current entry
  private lastPath: string | undefined;
  private count = 0;

  constructor(private readonly sink: {
    onEntry(e: PayloadEntry): void;
    onData(chunk: Buffer): void;
    onEntryEnd(): void;
  }) {}

  get entries(): number {
    return this.count;
  }

  push(chunk: Buffer): void {
    let data = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.buf = Buffer.alloc(0);
    for (;;) {
      if (this.remaining > 0) {
        if (data.length === 0) return;
        const n = Math.min(this.remaining, data.length);
        this.sink.onData(data.subarray(0, n));
        this.remaining -= n;
        data = data.subarray(n);
        if (this.remaining === 0) this.sink.onEntryEnd();
        continue;
      }
      if (data.length < 2) break;
      const len = data.readUInt16BE(0);
      if (len === 0 || len > MAX_PATH_BYTES) throw badInput('bundle entry: bad path length');
      if (data.length < 2 + len + 9) break;
      const path = data.subarray(2, 2 + len).toString('utf8');
      if (Buffer.byteLength(path) !== len) throw badInput('bundle entry: path is not UTF-8');
      checkEntryPath(path);
      if (this.lastPath !== undefined && comparePaths(this.lastPath, path) >= 0) throw badInput('bundle entries out of order or repeated');
      const mode = data.readUInt8(2 + len);
      if (mode > 1) throw badInput('bundle entry: bad mode');
      const size = data.readBigUInt64BE(3 + len);
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) throw badInput('bundle entry: bad size');
      if (++this.count > MAX_ENTRIES) throw badInput('bundle has too many entries');
      this.lastPath = path;
      this.remaining = Number(size);
      this.sink.onEntry({ path, executable: mode === 1, size: this.remaining });
      data = data.subarray(2 + len + 9);
      if (this.remaining === 0) this.sink.onEntryEnd();
    }
    this.buf = Buffer.from(data);
  }

  end(): void {
    if (this.remaining > 0 || this.buf.length > 0) throw badInput('bundle payload is truncated');
  }
}
