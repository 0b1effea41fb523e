import { createReadStream, createWriteStream } from 'node:fs';
import { open, mkdir, chmod } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import { badInput, GroveError } from '../errors.js';
import { manifestBytes, parseManifest, MAX_MANIFEST_BYTES, type ReleaseManifest } from './manifest.js';
import { PayloadParser } from './payload.js';

// The bundle file (docs/updates.md "Bundle file"):
//   8 bytes magic "GRVBNDL1" | u32be manifest_len | manifest (canonical JSON) | payload
// The payload runs to the end of the file and is exactly manifest.size bytes;
// build_hash = SHA-256(payload).

export const MAGIC = Buffer.from('GRVBNDL1', 'ascii');
export const HEADER_BYTES = MAGIC.length + 4;

export function bundleHeader(m: ReleaseManifest): Buffer {
  const body = manifestBytes(m);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([MAGIC, len, body]);
}

/** Reads and parses the manifest at the start of a bundle file (shape only). */
export async function readBundleManifest(path: string): Promise<{ manifest: ReleaseManifest; payloadOffset: number; fileSize: number }> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const head = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await fh.read(head, 0, HEADER_BYTES, 0);
    if (bytesRead < HEADER_BYTES || !head.subarray(0, MAGIC.length).equals(MAGIC)) throw badInput('not a grove bundle');
    const len = head.readUInt32BE(MAGIC.length);
    if (len === 0 || len > MAX_MANIFEST_BYTES) throw badInput('bundle manifest: bad length');
    const body = Buffer.alloc(len);
    if ((await fh.read(body, 0, len, HEADER_BYTES)).bytesRead !== len) throw badInput('bundle is truncated');
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw badInput('bundle manifest: not JSON');
    }
    const manifest = parseManifest(json);
    // One canonical form: re-encoding what we accepted gives the bytes in the file.
    if (!manifestBytes(manifest).equals(body)) throw badInput('bundle manifest: not canonical JSON');
    return { manifest, payloadOffset: HEADER_BYTES + len, fileSize: size };
  } finally {
    await fh.close();
  }
}

/**
 * Streams the payload once: its length must be manifest.size, its SHA-256 build_hash, and it
 * must parse as a well-formed payload with manifest.files entries. Returns the SHA-256 of the
 * whole file (what the peer endpoint signs when serving it).
 */
export async function checkPayload(path: string, manifest: ReleaseManifest, payloadOffset: number, fileSize: number, signal?: AbortSignal): Promise<{ fileSha256: string }> {
  if (fileSize - payloadOffset !== manifest.size) throw new GroveError('CORRUPT', `bundle payload is ${fileSize - payloadOffset} bytes, its manifest says ${manifest.size}`);
  const payloadHash = createHash('sha256');
  const fileHash = createHash('sha256');
  const parser = new PayloadParser({ onEntry: () => {}, onData: () => {}, onEntryEnd: () => {} });
  const stream = createReadStream(path, { highWaterMark: 1 << 20, signal });
  let offset = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    fileHash.update(chunk);
    const start = Math.max(0, payloadOffset - offset);
    offset += chunk.length;
    if (start >= chunk.length) continue;
    const part = chunk.subarray(start);
    payloadHash.update(part);
    try {
      parser.push(part);
    } catch (e) {
      throw new GroveError('CORRUPT', `bundle payload is malformed: ${(e as Error).message}`);
    }
  }
  if (payloadHash.digest('hex') !== manifest.build_hash) throw new GroveError('CORRUPT', 'bundle payload does not match its build_hash (tampered or damaged)');
  try {
    parser.end();
  } catch (e) {
    throw new GroveError('CORRUPT', `bundle payload is malformed: ${(e as Error).message}`);
  }
  if (parser.entries !== manifest.files) throw new GroveError('CORRUPT', 'bundle payload has a different number of files than its manifest');
  return { fileSha256: fileHash.digest('hex') };
}

/**
 * Writes the payload of an already verified bundle as files under `dir` (which must not
 * exist yet). Paths were checked by the parser: none leaves `dir`.
 */
export async function extractPayload(path: string, payloadOffset: number, dir: string, signal?: AbortSignal): Promise<number> {
  await mkdir(dir, { recursive: false });
  let out: ReturnType<typeof createWriteStream> | undefined;
  let current: { file: string; executable: boolean } | undefined;
  const dirs = new Set<string>();
  const queue: (() => Promise<void>)[] = [];
  const parser = new PayloadParser({
    onEntry: (e) => {
      const file = join(dir, ...e.path.split('/'));
      current = { file, executable: e.executable };
      const parent = dirname(file);
      queue.push(async () => {
        if (!dirs.has(parent)) {
          await mkdir(parent, { recursive: true });
          dirs.add(parent);
        }
        out = createWriteStream(file, { flags: 'wx', mode: e.executable ? 0o755 : 0o644 });
      });
    },
    onData: (d) => {
      const copy = Buffer.from(d);
      queue.push(async () => {
        if (!out!.write(copy)) await once(out!, 'drain');
      });
    },
    onEntryEnd: () => {
      const done = current!;
      queue.push(async () => {
        const s = out!;
        s.end();
        await once(s, 'close');
        await chmod(done.file, done.executable ? 0o755 : 0o644);
      });
    },
  });
  const stream = createReadStream(path, { start: payloadOffset, highWaterMark: 1 << 20, signal });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    parser.push(chunk);
    for (let job = queue.shift(); job; job = queue.shift()) await job();
  }
  parser.end();
  for (let job = queue.shift(); job; job = queue.shift()) await job();
  return parser.entries;
}
