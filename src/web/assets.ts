import { readFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';

// The built page (index.html, app.js, app.css: `npm run build` bundles src/web/ui with
// esbuild into dist/web). Read once at start, gzipped once, served from memory. These and
// the login form are the only things served without a session.

interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
}

export type Assets = Map<string, Asset>;

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

/** dist/web, beside the compiled server (dist/src/web/assets.js). */
export function defaultAssetsDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../web');
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Grove</title>
<p>The dashboard page is not built. Run <code>npm run build</code> in the Grove directory, then reload.</p>`;

export function loadAssets(dir = defaultAssetsDir()): Assets {
  const out: Assets = new Map();
  for (const [name, type] of Object.entries(TYPES)) {
    const p = join(dir, name);
    if (!existsSync(p)) continue;
    out.set(name, asset(readFileSync(p), type));
  }
  if (!out.has('index.html')) out.set('index.html', asset(Buffer.from(NOT_BUILT), TYPES['index.html']!));
  return out;
}

function asset(body: Buffer, type: string): Asset {
  return { body, gzip: gzipSync(body, { level: 9 }), type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

export function registerAssets(app: FastifyInstance, assets: Assets): void {
  const send = (name: string) => async (req: { headers: Record<string, string | string[] | undefined> }, reply: import('fastify').FastifyReply) => {
    const a = assets.get(name);
    if (!a) return reply.status(404).send({ error: 'NOT_FOUND', message: 'no such page' });
    reply.header('content-type', a.type).header('etag', a.etag).header('cache-control', 'no-cache').header('vary', 'accept-encoding');
    if (req.headers['if-none-match'] === a.etag) return reply.status(304).send();
    const accepts = String(req.headers['accept-encoding'] ?? '');
    if (/\bgzip\b/.test(accepts)) return reply.header('content-encoding', 'gzip').send(a.gzip);
    return reply.send(a.body);
  };
  app.get('/', send('index.html'));
  for (const name of ['app.js', 'app.css', 'icon.svg']) app.get(`/assets/${name}`, send(name));
}
