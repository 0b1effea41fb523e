import { createWriteStream } from 'node:fs';
import { mkdir, rm, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Home } from '../home/home.js';
import { addFile } from '../ingest/add.js';
import { SealPool } from '../ingest/pool.js';
import { byManifest } from '../ingest/files.js';
import { loadManifest, readChunks, type FetchObject } from '../ingest/restore.js';
import type { FileManifest } from '../formats/manifest.js';
import { fileKey } from '../crypto/kdf.js';
import { findHeldGrant, indexPending } from '../share/received.js';
import { isHash } from '../crypto/encoding.js';
import { GroveError, badInput, corrupt, describeError, notFound, tooLarge } from '../errors.js';
import { SECURITY_HEADERS, attachmentHeader, uploadName } from './security.js';
import type { DashboardContext } from './server.js';

// Uploads and downloads (docs/dashboard.md "Files"). An upload streams the request body to
// a temp file in the home (mode 600, size-bounded, never buffered whole), then goes through
// the same ingest as `grove add`, recorded under HOME/uploads/NAME. A download reads the
// file with the same verified reader as `grove get` (every object's hash, every chunk's tag,
// the whole file's hash) and sends each chunk as soon as it has passed.

const MAX_TRANSFERS = 4;

export function transferDir(home: Home): string {
  return join(home.paths.root, 'dashboard-tmp');
}

/** Removes what a crash left in the transfer directory (at start). */
export async function sweepTransfers(home: Home): Promise<void> {
  await rm(transferDir(home), { recursive: true, force: true });
}

async function tempPath(home: Home): Promise<string> {
  const dir = transferDir(home);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return join(dir, randomBytes(12).toString('hex'));
}

/** Aborted when the client goes away or the dashboard stops. */
function requestSignal(req: FastifyRequest, reply: FastifyReply, stopping: AbortSignal): AbortSignal {
  const ac = new AbortController();
  const gone = () => {
    if (!reply.raw.writableFinished) ac.abort(new GroveError('BAD_INPUT', 'the browser went away'));
  };
  req.raw.once('aborted', gone);
  reply.raw.once('close', gone);
  return AbortSignal.any([ac.signal, stopping]);
}

export function registerTransferRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  const { home } = ctx;
  let active = 0;
  const slot = async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= MAX_TRANSFERS) throw new GroveError('RATE_LIMITED', 'too many uploads and downloads at once: wait for one to finish');
    active++;
    try {
      return await fn();
    } finally {
      active--;
    }
  };

  // The body is the file itself: the parser hands the stream through untouched.
  app.addContentTypeParser('application/octet-stream', (_req, _payload, done) => done(null));

  app.put('/api/upload', { bodyLimit: Number.MAX_SAFE_INTEGER }, async (req, reply) => slot(async () => {
    const name = uploadName((req.query as { name?: string }).name);
    if (!name) throw badInput('give the file a name (one path component, at most 255 bytes, no control characters)');
    if (req.headers['content-type'] !== 'application/octet-stream') throw badInput('send the file as application/octet-stream');
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > ctx.maxUploadBytes) throw tooLarge(`the file is larger than the upload limit (${ctx.maxUploadBytes} bytes)`);
    const signal = requestSignal(req, reply, ctx.signal);
    const tmp = await tempPath(home);
    try {
      let n = 0;
      const bound = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          n += chunk.length;
          if (n > ctx.maxUploadBytes) cb(tooLarge(`the file is larger than the upload limit (${ctx.maxUploadBytes} bytes)`));
          else cb(null, chunk);
        },
      });
      await pipeline(req.raw, bound, createWriteStream(tmp, { mode: 0o600, flags: 'wx' }), { signal });
      if (Number.isFinite(declared) && n !== declared) throw badInput('the upload was cut short');
      const pool = new SealPool();
      try {
        const r = await addFile({ home, pool, now: ctx.clock, signal }, tmp, { sourcePath: join(home.paths.root, 'uploads', name) });
        ctx.feed.publish('files');
        ctx.feed.publish('overview');
        return { file: { path: r.path, name: r.name, size: r.size, version: r.version, manifest_hash: r.manifest_hash, chunks: r.chunks, new_chunks: r.new_chunks, unchanged: r.unchanged } };
      } finally {
        await pool.close();
      }
    } finally {
      await unlink(tmp).catch(() => {});
    }
  }));

  app.get('/api/files/download', async (req, reply) => {
    const manifest = (req.query as { manifest?: string }).manifest;
    if (typeof manifest !== 'string' || !isHash(manifest)) throw badInput('expected ?manifest=HASH');
    const v = byManifest(home.db, manifest);
    if (!v) throw notFound(`no file with manifest ${manifest} in this cell`);
    const key = fileKey(home.keys.master, Buffer.from(v.file_hash, 'hex'));
    return slot(() => streamFile(req, reply, ctx, manifest, key, ctx.fetchObject, (m) => {
      if (m.file_hash !== v.file_hash) throw corrupt(`manifest ${manifest} does not describe ${v.path}`);
    }));
  });

  app.get('/api/feed/download', async (req, reply) => {
    const manifest = (req.query as { manifest?: string }).manifest;
    if (typeof manifest !== 'string' || !isHash(manifest)) throw badInput('expected ?manifest=HASH');
    const held = findHeldGrant(home.db, manifest);
    if (!held) throw notFound('that file is not shared with this cell (any more)');
    return slot(async () => {
      const signal = requestSignal(req, reply, ctx.signal);
      const src = ctx.sharedSource(held, signal);
      // The manifest may have arrived just now (from the sharer): pin its chunks.
      return streamFile(req, reply, ctx, manifest, src.key, src.fetchObject, () => indexPending(home, manifest), signal);
    });
  });
}

/**
 * Sends one file as an attachment while it is decrypted (docs/dashboard.md "Uploads and
 * downloads"): chunks go out as `readChunks` verifies them, memory stays bounded whatever
 * the size, and the last chunk is sent only after the whole file's SHA-256 has matched.
 * Before the first byte a failure is an ordinary error answer; after it, the connection is
 * destroyed, so the browser sees a failed download short of Content-Length, never a
 * complete wrong file.
 */
async function streamFile(req: FastifyRequest, reply: FastifyReply, ctx: DashboardContext, manifestHash: string, key: Uint8Array,
  fetchObject: FetchObject | undefined, check: (m: FileManifest) => void, signal = requestSignal(req, reply, ctx.signal)): Promise<FastifyReply | undefined> {
  const { home, log } = ctx;
  const heal = fetchObject ? { fetchObject } : {};
  const m = await loadManifest(home, manifestHash, key, { now: ctx.clock, ...heal });
  check(m);
  const res = reply.raw;
  let sent = 0;
  const gone = new Promise<never>((_resolve, reject) => {
    const stop = () => reject(signal.reason instanceof Error ? signal.reason : new GroveError('BAD_INPUT', 'the download was cut off'));
    if (signal.aborted) stop();
    else signal.addEventListener('abort', stop, { once: true });
  });
  gone.catch(() => {});
  const write = (bytes: Uint8Array) => Promise.race([gone, new Promise<void>((resolve, reject) => {
    // The bytes are a reused buffer: wait until the socket has taken them.
    res.write(bytes, (err) => (err ? reject(err) : resolve()));
  })]);
  const head = () => {
    reply.hijack();
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'cache-control': 'no-store',
      'content-type': 'application/octet-stream',
      'content-disposition': attachmentHeader(m.filename),
      'content-length': String(m.total_size),
    });
  };
  if (req.method === 'HEAD') {
    head();
    res.end();
    return undefined;
  }
  try {
    await readChunks(home, m, key, {
      next: async (bytes) => {
        if (!reply.sent) head();
        if (bytes.length) await write(bytes);
        sent += bytes.length;
      },
    }, { now: ctx.clock, signal, ...heal });
  } catch (e) {
    if (!reply.sent) throw e; // nothing sent yet: an ordinary error answer
    if (!signal.aborted) log.error({ err: e, manifest: manifestHash, sent, size: m.total_size }, `download of ${m.filename} aborted after ${sent} of ${m.total_size} bytes: ${describeError(e)}`);
    else log.info({ manifest: manifestHash, sent, size: m.total_size }, `download of ${m.filename} cut off after ${sent} of ${m.total_size} bytes`);
    res.destroy();
    return undefined;
  }
  res.end();
  return undefined;
}
