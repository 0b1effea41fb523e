import { readFileSync, readdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

// The built page (`npm run build` bundles src/web/ui with esbuild into dist/web): index.html
// plus the script and stylesheet under content-hashed names (app-HASH.js, app-HASH.css) and
// the icon. Read once at start, gzipped once, served from memory. A hashed name never
// changes meaning, so those are cached for good (`immutable`): a returning browser asks for
// nothing but the page. The page itself is never cached: it carries the session's state
// (below). These and the login form are the only things served without a session.

interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
  /** Content-hashed name: cached for good. */
  immutable: boolean;
}

export type Assets = Map<string, Asset>;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** esbuild's [hash]: 8 characters of base32 before the extension. */
const HASHED = /-[A-Z0-9]{8}\.[a-z]+$/;
/** Where the page carries its session (docs/dashboard.md "The page"). */
export const SESSION_META = '<meta name="grove-session" content="">';

/** dist/web, beside the compiled server (dist/src/web/assets.js). */
export function defaultAssetsDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../web');
}

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Grove</title>
<p>The dashboard page is not built. Run <code>npm run build</code> in the Grove directory, then reload.</p>`;

export function loadAssets(dir = defaultAssetsDir()): Assets {
  const out: Assets = new Map();
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    /* not built */
  }
  for (const name of names) {
    const type = TYPES[extname(name)];
    if (!type || !/^[\w.-]+$/.test(name)) continue;
    out.set(name, asset(readFileSync(join(dir, name)), type, HASHED.test(name)));
  }
  if (!out.has('index.html')) out.set('index.html', asset(Buffer.from(NOT_BUILT), TYPES['.html']!, false));
  return out;
}

function asset(body: Buffer, type: string, immutable: boolean): Asset {
  return { body, gzip: gzipSync(body, { level: 9 }), type, immutable, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/** Text for an HTML attribute value in double quotes. */
function attr(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&#39;');
}

/**
 * What a signed-in page asks for first (the page frame's peers and chat, and the Overview,
 * where it lands): the page preloads them, so they load alongside the script instead of
 * after it (src/web/ui/main.tsx asks for exactly these).
 */
export const FIRST_ANSWERS = ['/api/peers', '/api/chat', '/api/overview'];

/**
 * The page, with what `GET /api/session` would answer in its `grove-session` meta tag (empty
 * without a live session), so the script draws the login form or the cell at once instead
 * of asking first. Data in an attribute, never script: the CSP stays without inline script.
 */
export function pageFor(assets: Assets, session: object | undefined): Buffer {
  const page = assets.get('index.html')!.body;
  if (!session) return page;
  const preload = FIRST_ANSWERS.map((p) => `\n<link rel="preload" href="${p}" as="fetch" crossorigin>`).join('');
  return Buffer.from(page.toString('utf8').replace(SESSION_META, `<meta name="grove-session" content="${attr(JSON.stringify(session))}">${preload}`));
}

export function registerAssets(app: FastifyInstance, assets: Assets, session: (req: FastifyRequest) => object | undefined): void {
  app.get('/', async (req, reply) => {
    // Personal (it carries the session's CSRF token) and tiny: never stored, not compressed.
    return reply.header('content-type', TYPES['.html']!).header('cache-control', 'no-store').send(pageFor(assets, session(req)));
  });
  app.get('/assets/:name', async (req, reply) => {
    const name = (req.params as { name: string }).name;
    const a = name === 'index.html' ? undefined : assets.get(name);
    if (!a) return reply.status(404).send({ error: 'NOT_FOUND', message: 'no such page' });
    reply.header('content-type', a.type).header('etag', a.etag).header('vary', 'accept-encoding')
      .header('cache-control', a.immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
    if (req.headers['if-none-match'] === a.etag) return reply.status(304).send();
    return sendBody(req, reply, a);
  });
}

function sendBody(req: FastifyRequest, reply: FastifyReply, a: Asset): FastifyReply {
  if (/\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) return reply.header('content-encoding', 'gzip').send(a.gzip);
  return reply.send(a.body);
}
