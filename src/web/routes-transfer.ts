import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Home } from '../home/home.js';
import { addFile } from '../ingest/add.js';
import { SealPool } from '../ingest/pool.js';
import { byManifest } from '../ingest/files.js';
import { restoreFile } from '../ingest/restore.js';
import { fileKey } from '../crypto/kdf.js';
import { findHeldGrant } from '../share/received.js';
import { isHash } from '../crypto/encoding.js';
import { GroveError, badInput, corrupt, notFound, tooLarge } from '../errors.js';
import { attachmentHeader, uploadName } from './security.js';
import type { DashboardContext } from './server.js';

// Uploads and downloads (docs/dashboard.md "Files"). An upload streams the request body to
// a temp file in the home (mode 600, size-bounded, never buffered whole), then goes through
// the same ingest as `grove add`, recorded under HOME/uploads/NAME. A download restores the
// file exactly as `grove get` does (every chunk's tag and the whole file's hash checked)
// into a temp file, then streams it as an attachment and removes it.

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
    return slot(() => serveRestored(req, reply, ctx, v.name, async (out, signal) => {
      const key = fileKey(home.keys.master, Buffer.from(v.file_hash, 'hex'));
      const r = await restoreFile(home, manifest, key, out, { now: ctx.clock, signal, ...(ctx.fetchObject ? { fetchObject: ctx.fetchObject } : {}) });
      if (r.manifest.file_hash !== v.file_hash) throw corrupt(`manifest ${manifest} does not describe ${v.path}`);
    }));
  });

  app.get('/api/feed/download', async (req, reply) => {
    const manifest = (req.query as { manifest?: string }).manifest;
    if (typeof manifest !== 'string' || !isHash(manifest)) throw badInput('expected ?manifest=HASH');
    const held = findHeldGrant(home.db, manifest);
    if (!held) throw notFound('that file is not shared with this cell (any more)');
    return slot(() => serveRestored(req, reply, ctx, held.grant.filename, async (out, signal) => {
      await ctx.restoreShared(held, out, { signal });
    }));
  });
}

/** Restores into a temp file (fully verified), then streams it as an attachment. */
async function serveRestored(req: FastifyRequest, reply: FastifyReply, ctx: DashboardContext, filename: string,
  restore: (out: string, signal: AbortSignal) => Promise<void>): Promise<FastifyReply> {
  const signal = requestSignal(req, reply, ctx.signal);
  const out = await tempPath(ctx.home);
  try {
    await restore(out, signal);
    const size = (await stat(out)).size;
    const stream = createReadStream(out);
    const cleanup = () => void unlink(out).catch(() => {});
    stream.once('close', cleanup);
    return reply
      .header('content-type', 'application/octet-stream')
      .header('content-disposition', attachmentHeader(filename))
      .header('content-length', String(size))
      .send(stream);
  } catch (e) {
    await unlink(out).catch(() => {});
    throw e;
  }
}
