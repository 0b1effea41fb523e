import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import type { LightMyRequestResponse } from 'fastify';
import { startCells, pairCells, type TestCell, type StartCellsOptions } from '../helpers/cells.js';
import { runGrove } from '../helpers/ingest.js';
import { lsRows } from '../../src/ingest/list.js';
import { Dashboard } from '../../src/web/server.js';

// The dashboard's HTTP surface, in-process (fastify inject) against a real cell: auth on
// every API route, CSRF (token and Origin), the Host check, the login rate limit, headers,
// session expiry and invalidation by `grove passwd`, uploads and downloads.

const PASSWORD = 'test-password'; // set by the cells helper

interface Dash {
  tc: TestCell;
  host: string;
  origin: string;
  inject(o: { method?: string; url: string; cookie?: string; csrf?: string; origin?: string | null; host?: string; ip?: string; json?: unknown; body?: Buffer; headers?: Record<string, string> }): Promise<LightMyRequestResponse>;
  login(ip?: string): Promise<{ cookie: string; csrf: string }>;
}

async function dashCell(t: TestContext, dashboard: StartCellsOptions['dashboard'] = true, n = 1, config?: StartCellsOptions['config']): Promise<Dash[]> {
  const cells = await startCells(t, n, { dashboard, ...(config ? { config } : {}) });
  return cells.map((tc) => dashFor(tc, tc.cell.dashboard!));
}

/** Requests to a dashboard (the cell's own, or one a test built from its components). */
function dashFor(tc: TestCell, d: Dashboard): Dash {
  const host = new URL(d.url!).host;
  const origin = `http://${host}`;
  const dash: Dash = {
    tc, host, origin,
    inject: (o) => {
      const headers: Record<string, string> = { host: o.host ?? host, ...o.headers };
      if (o.cookie) headers.cookie = o.cookie;
      if (o.csrf) headers['x-grove-csrf'] = o.csrf;
      const method = (o.method ?? 'GET') as 'GET';
      if (o.origin !== null && (o.origin !== undefined || method !== 'GET')) headers.origin = o.origin ?? origin;
      if (o.json !== undefined) headers['content-type'] = 'application/json';
      return d.app.inject({ method, url: o.url, headers, remoteAddress: o.ip ?? '127.0.0.1', payload: o.json !== undefined ? JSON.stringify(o.json) : o.body });
    },
    login: async (ip) => {
      const r = await dash.inject({ method: 'POST', url: '/api/login', json: { password: PASSWORD }, ...(ip ? { ip } : {}) });
      assert.equal(r.statusCode, 200, r.body);
      const set = String(r.headers['set-cookie']);
      return { cookie: set.split(';')[0]!, csrf: (r.json() as { csrf: string }).csrf };
    },
  };
  return dash;
}

const API_GETS = ['/api/session', '/api/overview', '/api/files', '/api/files/versions?path=/x', '/api/feed', '/api/chat', '/api/chat/alpha',
  '/api/peers', '/api/settings', '/api/events', `/api/files/download?manifest=${'0'.repeat(64)}`, `/api/feed/download?manifest=${'0'.repeat(64)}`,
  '/api/updates', '/api/peers/nearby', '/api/watch'];
const API_POSTS = ['/api/logout', '/api/sync', '/api/share', '/api/unshare', '/api/chat/alpha', '/api/chat/alpha/read', '/api/peers/probe',
  '/api/peers/alpha/prefer', '/api/invite', '/api/pair', '/api/settings', '/api/password',
  '/api/updates/accept', '/api/watch', '/api/watch/remove', '/api/files/delete'];

test('every API route but login needs a session; the page and its assets do not', async (t) => {
  const [d] = await dashCell(t);
  for (const url of API_GETS) {
    const r = await d!.inject({ url });
    assert.equal(r.statusCode, 401, `GET ${url}: ${r.body}`);
  }
  for (const url of API_POSTS) {
    const r = await d!.inject({ method: 'POST', url, json: {} });
    assert.equal(r.statusCode, 401, `POST ${url}: ${r.body}`);
  }
  const up = await d!.inject({ method: 'PUT', url: '/api/upload?name=x', body: Buffer.from('x'), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(up.statusCode, 401);
  assert.equal(lsRows(d!.tc.cell.home.db).length, 0);
  const page = await d!.inject({ url: '/' });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /text\/html/);
  // A forged or unknown cookie is no session.
  assert.equal((await d!.inject({ url: '/api/overview', cookie: 'grove_session=forged' })).statusCode, 401);
});

test('login: a wrong password is refused; the right one opens an HttpOnly SameSite=Strict expiring session', async (t) => {
  const [d] = await dashCell(t);
  const bad = await d!.inject({ method: 'POST', url: '/api/login', json: { password: 'wrong-password' } });
  assert.equal(bad.statusCode, 401);
  assert.equal(bad.headers['set-cookie'], undefined);
  const ok = await d!.inject({ method: 'POST', url: '/api/login', json: { password: PASSWORD } });
  assert.equal(ok.statusCode, 200);
  const set = String(ok.headers['set-cookie']);
  assert.match(set, /^grove_session=[A-Za-z0-9_-]{43};/);
  assert.match(set, /HttpOnly/);
  assert.match(set, /SameSite=Strict/);
  assert.match(set, /Max-Age=\d+/);
  const cookie = set.split(';')[0]!;
  const s = await d!.inject({ url: '/api/session', cookie });
  assert.equal(s.statusCode, 200);
  assert.equal((s.json() as { id: string }).id, d!.tc.id);
  const o = await d!.inject({ url: '/api/overview', cookie });
  assert.equal(o.statusCode, 200);
  assert.equal((o.json() as { dashboard_url: string }).dashboard_url, d!.tc.cell.dashboard!.url);
  // Logout ends it.
  const csrf = (ok.json() as { csrf: string }).csrf;
  assert.equal((await d!.inject({ method: 'POST', url: '/api/logout', cookie, csrf })).statusCode, 200);
  assert.equal((await d!.inject({ url: '/api/session', cookie })).statusCode, 401);
});

test('CSRF: without the token, with a wrong one, or from a foreign Origin a change is refused and changes nothing', async (t) => {
  const [d] = await dashCell(t);
  const { cookie, csrf } = await d!.login();
  const cfg = () => JSON.parse(readFileSync(d!.tc.cell.home.paths.config, 'utf8')) as { replication?: { factor?: number } };
  const change = { key: 'replication.factor', value: 3 };
  const noToken = await d!.inject({ method: 'POST', url: '/api/settings', cookie, json: change });
  assert.equal(noToken.statusCode, 403);
  const wrong = await d!.inject({ method: 'POST', url: '/api/settings', cookie, csrf: csrf.slice(0, -2) + 'xx', json: change });
  assert.equal(wrong.statusCode, 403);
  const foreign = await d!.inject({ method: 'POST', url: '/api/settings', cookie, csrf, origin: 'http://evil.example', json: change });
  assert.equal(foreign.statusCode, 403);
  const crossSite = await d!.inject({ method: 'POST', url: '/api/settings', cookie, csrf, origin: null, headers: { 'sec-fetch-site': 'cross-site' }, json: change });
  assert.equal(crossSite.statusCode, 403);
  // A cross-site login (login CSRF) is refused too.
  assert.equal((await d!.inject({ method: 'POST', url: '/api/login', origin: 'http://evil.example', json: { password: PASSWORD } })).statusCode, 403);
  assert.equal(cfg().replication?.factor, undefined);
  const ok = await d!.inject({ method: 'POST', url: '/api/settings', cookie, csrf, json: change });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(cfg().replication?.factor, 3);
  // Reads need no token (and change nothing).
  assert.equal((await d!.inject({ url: '/api/settings', cookie })).statusCode, 200);
});

test('Host check: a request for another host name (DNS rebinding) is refused, page and API alike', async (t) => {
  const [d] = await dashCell(t);
  const { cookie } = await d!.login();
  for (const url of ['/', '/api/overview', '/assets/icon.svg']) {
    const r = await d!.inject({ url, cookie, host: 'evil.example' });
    assert.equal(r.statusCode, 403, url);
    const r2 = await d!.inject({ url, cookie, host: `evil.example:${new URL(d!.origin).port}` });
    assert.equal(r2.statusCode, 403, url);
  }
  assert.equal((await d!.inject({ url: '/api/overview', cookie, host: `localhost:${new URL(d!.origin).port}` })).statusCode, 200);
});

test('login rate limit: a growing delay per client, and overall', async (t) => {
  const [d] = await dashCell(t, { loginLimit: { freeFailures: 2, baseDelayMs: 60_000, globalFreeFailures: 5, globalWindowMs: 3_600_000 } });
  const tc = d!.tc;
  const attempt = (password: string, ip: string) => d!.inject({ method: 'POST', url: '/api/login', json: { password }, ip });
  assert.equal((await attempt('wrong-1', '10.0.0.1')).statusCode, 401);
  assert.equal((await attempt('wrong-2', '10.0.0.1')).statusCode, 401);
  // Now this client waits, even with the right password.
  const limited = await attempt(PASSWORD, '10.0.0.1');
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.headers['retry-after'], '60');
  // Another client is not held up by it yet.
  assert.equal((await attempt(PASSWORD, '10.0.0.2')).statusCode, 200);
  tc.clock.advance(60_000);
  assert.equal((await attempt('wrong-3', '10.0.0.1')).statusCode, 401);
  const longer = await attempt(PASSWORD, '10.0.0.1');
  assert.equal(longer.statusCode, 429);
  assert.equal(longer.headers['retry-after'], '120'); // doubled
  tc.clock.advance(120_000);
  assert.equal((await attempt(PASSWORD, '10.0.0.1')).statusCode, 200);
  // Overall: many clients failing once each slow everyone down.
  for (let i = 10; i < 15; i++) await attempt('wrong', `10.0.1.${i}`);
  assert.equal((await attempt(PASSWORD, '10.0.2.1')).statusCode, 429);
});

test('headers: CSP without inline script, no framing, nosniff, no-store on API answers', async (t) => {
  const [d] = await dashCell(t);
  const { cookie } = await d!.login();
  for (const url of ['/', '/api/overview', '/api/nope']) {
    const r = await d!.inject({ url, cookie });
    const csp = String(r.headers['content-security-policy']);
    assert.match(csp, /frame-ancestors 'none'/, url);
    assert.match(csp, /script-src 'self'/, url);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, url);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', url);
    assert.equal(r.headers['x-frame-options'], 'DENY', url);
    if (url.startsWith('/api/')) assert.equal(r.headers['cache-control'], 'no-store', url);
  }
  const unauth = await d!.inject({ url: '/api/overview' });
  assert.equal(unauth.headers['cache-control'], 'no-store');
});

test('the page carries its session (or none) and preloads its first answers; hashed assets are cached for good', async (t) => {
  const [d] = await dashCell(t, true, 1, { name: 'al"pha <b>' });
  const meta = (html: string) => /<meta name="grove-session" content="([^"]*)">/.exec(html)?.[1];
  const anon = await d!.inject({ url: '/' });
  assert.equal(anon.statusCode, 200);
  assert.equal(anon.headers['cache-control'], 'no-store');
  assert.equal(meta(anon.body), '');
  assert.doesNotMatch(anon.body, /rel="preload"/);
  const { cookie, csrf } = await d!.login();
  const mine = await d!.inject({ url: '/', cookie });
  assert.equal(mine.headers['cache-control'], 'no-store');
  const decoded = meta(mine.body)!.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
  assert.deepEqual(JSON.parse(decoded), { csrf, id: d!.tc.id, name: 'al"pha <b>' });
  assert.doesNotMatch(mine.body, /<b>/, 'the name is escaped in the attribute');
  for (const p of ['/api/peers', '/api/chat', '/api/overview']) assert.match(mine.body, new RegExp(`<link rel="preload" href="${p}" as="fetch" crossorigin>`));
  assert.doesNotMatch(mine.body, /<script>|<script [^>]*>[^<]/, 'no inline script');
  // A forged cookie is no session.
  assert.equal(meta((await d!.inject({ url: '/', cookie: 'grove_session=forged' })).body), '');

  const js = /src="(\/assets\/app-[A-Z0-9]{8}\.js)"/.exec(anon.body)![1]!;
  const css = /href="(\/assets\/app-[A-Z0-9]{8}\.css)"/.exec(anon.body)![1]!;
  for (const url of [js, css]) {
    const r = await d!.inject({ url, headers: { 'accept-encoding': 'gzip, br' } });
    assert.equal(r.statusCode, 200, url);
    assert.equal(r.headers['cache-control'], 'public, max-age=31536000, immutable', url);
    assert.equal(r.headers['content-encoding'], 'gzip', url);
  }
  const icon = await d!.inject({ url: '/assets/icon.svg' });
  assert.equal(icon.headers['cache-control'], 'no-cache');
  assert.equal((await d!.inject({ url: '/assets/icon.svg', headers: { 'if-none-match': String(icon.headers.etag) } })).statusCode, 304);
  for (const url of ['/assets/index.html', '/assets/app.js', '/assets/..%2Fpackage.json']) assert.equal((await d!.inject({ url })).statusCode, 404, url);
});

test('sessions expire (absolute and idle) and end when `grove passwd` changes the password', async (t) => {
  const [d] = await dashCell(t, { sessions: { ttlMs: 3_600_000, idleMs: 600_000 } });
  const tc = d!.tc;
  // Idle expiry.
  let { cookie } = await d!.login();
  tc.clock.advance(599_000);
  assert.equal((await d!.inject({ url: '/api/session', cookie })).statusCode, 200);
  tc.clock.advance(599_000);
  assert.equal((await d!.inject({ url: '/api/session', cookie })).statusCode, 200);
  tc.clock.advance(600_000);
  assert.equal((await d!.inject({ url: '/api/session', cookie })).statusCode, 401);
  // Absolute expiry, however busy.
  ({ cookie } = await d!.login());
  for (let i = 0; i < 7; i++) {
    tc.clock.advance(500_000);
    assert.equal((await d!.inject({ url: '/api/session', cookie })).statusCode, 200, `after ${i}`);
  }
  tc.clock.advance(200_000);
  assert.equal((await d!.inject({ url: '/api/session', cookie })).statusCode, 401);
  // `grove passwd` (the real executable) ends every session; the new password works.
  ({ cookie } = await d!.login());
  const r = await runGrove(tc.root, ['passwd'], { env: { GROVE_DASHBOARD_PASSWORD: 'a-brand-new-password' } });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await d!.inject({ url: '/api/session', cookie })).statusCode, 401);
  assert.equal((await d!.inject({ method: 'POST', url: '/api/login', json: { password: PASSWORD } })).statusCode, 401);
  assert.equal((await d!.inject({ method: 'POST', url: '/api/login', json: { password: 'a-brand-new-password' } })).statusCode, 200);
});

test('upload streams into ingest; download is the same bytes, as an attachment; oversize uploads store nothing', async (t) => {
  const [d] = await dashCell(t, { maxUploadBytes: 6 * 1024 * 1024 });
  const { cookie, csrf } = await d!.login();
  const bytes = randomBytes(5 * 1024 * 1024 + 123);
  const name = 'report "Q3" <b>.bin';
  const up = await d!.inject({ method: 'PUT', url: `/api/upload?name=${encodeURIComponent(name)}`, cookie, csrf, body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(up.statusCode, 200, up.body);
  const file = (up.json() as { file: { manifest_hash: string; name: string; size: number; chunks: number } }).file;
  assert.equal(file.name, name);
  assert.equal(file.size, bytes.length);
  assert.equal(file.chunks, 2);
  const list = await d!.inject({ url: '/api/files?q=q3', cookie });
  assert.equal((list.json() as { total: number }).total, 1);
  const down = await d!.inject({ url: `/api/files/download?manifest=${file.manifest_hash}`, cookie });
  assert.equal(down.statusCode, 200);
  assert.match(String(down.headers['content-disposition']), /^attachment; filename="report _Q3_ <b>.bin"; filename\*=UTF-8''report%20%22Q3%22%20%3Cb%3E.bin$/);
  assert.equal(down.headers['content-type'], 'application/octet-stream');
  assert.ok(down.rawPayload.equals(bytes));
  // Too large: refused by its declared length, and (streamed, no length) once it passes the bound.
  const big = randomBytes(6 * 1024 * 1024 + 1);
  const tooBig = await d!.inject({ method: 'PUT', url: '/api/upload?name=big.bin', cookie, csrf, body: big, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(tooBig.statusCode, 413);
  const streamed = await rawUpload(d!, cookie, csrf, 'big2.bin', big);
  assert.equal(streamed, 413);
  assert.deepEqual(lsRows(d!.tc.cell.home.db).map((r) => r.name), [name]);
  // Names that are paths are refused.
  const bad = await d!.inject({ method: 'PUT', url: '/api/upload?name=..%2Fetc', cookie, csrf, body: Buffer.from('x'), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(bad.statusCode, 400);
});

/** A GET over a real socket: what arrived, and whether the response completed. */
function rawGet(url: string, cookie: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { cookie } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('error', () => {}); // an aborted response: seen as incomplete below
      res.on('close', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts), complete: res.complete }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function uploadBytes(d: Dash, cookie: string, csrf: string, name: string, bytes: Buffer): Promise<{ manifest_hash: string; chunks: number }> {
  const up = await d.inject({ method: 'PUT', url: `/api/upload?name=${encodeURIComponent(name)}`, cookie, csrf, body: bytes, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(up.statusCode, 200, up.body);
  return (up.json() as { file: { manifest_hash: string; chunks: number } }).file;
}

test('downloads stream as they decrypt: a 9 MiB file (3 chunks) over a real socket, own and shared, byte-identical', async (t) => {
  const [a, b] = await dashCell(t, true, 2);
  await pairCells(a!.tc, b!.tc);
  const { cookie, csrf } = await a!.login();
  const bytes = randomBytes(9 * 1024 * 1024);
  const file = await uploadBytes(a!, cookie, csrf, 'nine.bin', bytes);
  assert.equal(file.chunks, 3);
  const got = await rawGet(`${a!.tc.cell.dashboard!.url}/api/files/download?manifest=${file.manifest_hash}`, cookie);
  assert.equal(got.status, 200);
  assert.ok(got.complete);
  assert.equal(got.headers['content-length'], String(bytes.length));
  assert.equal(got.headers['content-type'], 'application/octet-stream');
  assert.equal(got.headers['x-content-type-options'], 'nosniff');
  assert.equal(got.headers['cache-control'], 'no-store');
  assert.match(String(got.headers['content-disposition']), /^attachment; filename="nine.bin"/);
  assert.match(String(got.headers['content-security-policy']), /default-src 'none'/);
  assert.ok(got.body.equals(bytes), 'downloaded bytes differ');
  const head = await a!.inject({ method: 'HEAD', url: `/api/files/download?manifest=${file.manifest_hash}`, cookie });
  assert.equal(head.statusCode, 200);
  assert.equal(head.headers['content-length'], String(bytes.length));
  assert.equal(head.rawPayload.length, 0);

  // Shared with beta: its Feed download fetches the objects from alpha as it goes.
  const share = await a!.inject({ method: 'POST', url: '/api/share', cookie, csrf, json: { file: file.manifest_hash, peers: ['beta'] } });
  assert.equal(share.statusCode, 200, share.body);
  const sb = await b!.login();
  const shared = await rawGet(`${b!.tc.cell.dashboard!.url}/api/feed/download?manifest=${file.manifest_hash}`, sb.cookie);
  assert.equal(shared.status, 200);
  assert.ok(shared.complete);
  assert.equal(shared.headers['content-length'], String(bytes.length));
  assert.ok(shared.body.equals(bytes), 'shared download differs');
});

test('a corrupt or missing chunk fails the download: an error before the first byte, a cut connection after it, logged', async (t) => {
  const { pino } = await import('pino');
  const { chunksOf } = await import('../../src/ingest/files.js');
  const { readFile, writeFile, unlink } = await import('node:fs/promises');
  const [a] = await startCells(t, 1);
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
  const dash = new Dashboard({ ...a!.cell.dashboardComponents(), log }, { host: '127.0.0.1', port: 0 });
  await dash.start();
  t.after(() => dash.stop());
  const d = dashFor(a!, dash);
  const { cookie, csrf } = await d.login();
  const objects = a!.cell.home.objects;
  const flip = async (hash: string) => {
    const p = objects.pathOf(hash);
    const b = await readFile(p);
    b[1000]! ^= 0x01;
    await writeFile(p, b);
  };
  const download = (m: string) => rawGet(`${dash.url}/api/files/download?manifest=${m}`, cookie);

  // The middle chunk corrupt on disk: the first 4 MiB went out, then the connection is cut.
  const one = await uploadBytes(d, cookie, csrf, 'one.bin', randomBytes(9 * 1024 * 1024));
  await flip(chunksOf(a!.cell.home.db, one.manifest_hash)[1]!.hash);
  const cut = await download(one.manifest_hash);
  assert.equal(cut.status, 200);
  assert.equal(cut.complete, false, 'a download with a corrupt chunk must not complete');
  assert.ok(cut.body.length < 9 * 1024 * 1024, `got ${cut.body.length} bytes`);
  assert.ok(lines.some((l) => /download of one\.bin aborted after \d+ of 9437184 bytes/.test(l) && /corrupt/.test(l)), lines.join('\n'));

  // The last chunk missing: everything before it went out, never the end.
  const two = await uploadBytes(d, cookie, csrf, 'two.bin', randomBytes(9 * 1024 * 1024 + 5));
  await unlink(objects.pathOf(chunksOf(a!.cell.home.db, two.manifest_hash)[2]!.hash));
  const short = await download(two.manifest_hash);
  assert.equal(short.complete, false);
  assert.ok(short.body.length <= 8 * 1024 * 1024);

  // The first chunk corrupt: nothing sent yet, so an ordinary error answer.
  const three = await uploadBytes(d, cookie, csrf, 'three.bin', randomBytes(100_000));
  await flip(chunksOf(a!.cell.home.db, three.manifest_hash)[0]!.hash);
  const refused = await download(three.manifest_hash);
  assert.equal(refused.status, 500);
  assert.equal((JSON.parse(refused.body.toString()) as { error: string }).error, 'CORRUPT');
  assert.equal(refused.headers['content-disposition'], undefined);
});

/** A chunked upload over a real socket (no Content-Length). */
function rawUpload(d: Dash, cookie: string, csrf: string, name: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${d.tc.cell.dashboard!.url}/api/upload?name=${name}`, {
      method: 'PUT', headers: { cookie, 'x-grove-csrf': csrf, origin: d.origin, 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
    }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e) => ((e as NodeJS.ErrnoException).code === 'EPIPE' || (e as NodeJS.ErrnoException).code === 'ECONNRESET' ? undefined : reject(e)));
    for (let i = 0; i < body.length; i += 256 * 1024) req.write(body.subarray(i, i + 256 * 1024));
    req.end();
  });
}

test('server-sent events: live, resumable with Last-Event-ID, reset when the ID is unknown', async (t) => {
  const [a, b] = await dashCell(t, true, 2);
  await pairCells(a!.tc, b!.tc);
  const { cookie } = await a!.login();
  const url = `${a!.tc.cell.dashboard!.url}/api/events`;
  const ac = new AbortController();
  t.after(() => ac.abort());
  const res = await fetch(url, { headers: { cookie }, signal: ac.signal });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
  const reader = res.body!.getReader();
  let text = '';
  const until = async (re: RegExp) => {
    while (!re.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before ${re}`);
      text += Buffer.from(value).toString();
    }
    return re.exec(text)!;
  };
  // A chat message from b arrives: the page hears "chat".
  await b!.tc.cell.chat.send(a!.tc.id, 'hello over SSE');
  const m = await until(/id: ([0-9a-f]{12}-\d+)\nevent: chat\ndata: \{"peer":"([a-z2-7]+)"\}/);
  assert.equal(m[2], b!.tc.id);
  ac.abort();
  // Reconnecting with that ID: what happened since comes back, nothing before it.
  await b!.tc.cell.chat.send(a!.tc.id, 'while away');
  const resumed = await fetch(url, { headers: { cookie, 'last-event-id': m[1]! } });
  const r2 = resumed.body!.getReader();
  let t2 = '';
  while (!/event: chat/.test(t2)) t2 += Buffer.from((await r2.read()).value!).toString();
  assert.doesNotMatch(t2, new RegExp(`id: ${m[1]}\\n`));
  await r2.cancel();
  const stale = await fetch(url, { headers: { cookie, 'last-event-id': '000000000000-5' } });
  const r3 = stale.body!.getReader();
  let t3 = '';
  while (!/event: reset/.test(t3)) t3 += Buffer.from((await r3.read()).value!).toString();
  await r3.cancel();
});

test('`grove start` serves the dashboard; `grove status --json` gives its URL', async (t) => {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { startDaemon, groveJson } = await import('../helpers/cli.js');
  const base = await mkdtemp(join(tmpdir(), 'grove-dash-cli-'));
  t.after(() => rm(base, { recursive: true, force: true }));
  const home = join(base, 'a');
  await groveJson(home, 'init', '--name', 'alpha');
  const d = await startDaemon(t, home);
  const s = await groveJson<{ dashboard_url: string }>(home, 'status');
  assert.match(s.dashboard_url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const page = await fetch(s.dashboard_url);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<script type="module" src="\/assets\/app-[A-Z0-9]{8}\.js"><\/script>/);
  assert.equal((await fetch(`${s.dashboard_url}/api/overview`)).status, 401);
  assert.equal(await d.stop(), 0);
});

test('a non-loopback dashboard logs a warning', async (t) => {
  const { pino } = await import('pino');
  const [a] = await startCells(t, 1);
  const lines: string[] = [];
  const log = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
  const d = new Dashboard({ ...a!.cell.dashboardComponents(), log }, { host: '0.0.0.0', port: 0 });
  await d.start();
  t.after(() => d.stop());
  assert.ok(lines.some((l) => /non-loopback/.test(l)), lines.join('\n'));
  assert.match(d.url!, /^http:\/\/127\.0\.0\.1:\d+$/);
});

test('updates: the offers as `grove update` lists them; accept needs the CSRF token and a known build', async (t) => {
  const [d] = await dashCell(t);
  const { cookie, csrf } = await d!.login();
  const list = await d!.inject({ url: '/api/updates', cookie });
  assert.equal(list.statusCode, 200, list.body);
  const u = list.json() as { current: { version: string; build_hash: string | null }; supervised: boolean; offers: unknown[] };
  assert.match(u.current.version, /^\d+\.\d+\.\d+/);
  assert.deepEqual(u.offers, []);
  const hash = 'a'.repeat(64);
  assert.equal((await d!.inject({ method: 'POST', url: '/api/updates/accept', cookie, json: { hash } })).statusCode, 403);
  assert.equal((await d!.inject({ method: 'POST', url: '/api/updates/accept', cookie, csrf, origin: 'http://evil.example', json: { hash } })).statusCode, 403);
  assert.equal((await d!.inject({ method: 'POST', url: '/api/updates/accept', cookie, csrf, json: {} })).statusCode, 400);
  assert.equal((await d!.inject({ method: 'POST', url: '/api/updates/accept', cookie, csrf, json: { hash: 'not-a-hash' } })).statusCode, 400);
  const unknown = await d!.inject({ method: 'POST', url: '/api/updates/accept', cookie, csrf, json: { hash } });
  assert.equal(unknown.statusCode, 404, unknown.body);
});

test('nearby cells: an empty list when discovery is off (a loopback-only cell)', async (t) => {
  const [d] = await dashCell(t);
  const { cookie } = await d!.login();
  const r = await d!.inject({ url: '/api/peers/nearby', cookie });
  assert.equal(r.statusCode, 200, r.body);
  assert.deepEqual(r.json(), { nearby: [], enabled: false });
});

test('watched folders: add, list with state, remove; each change needs the CSRF token', async (t) => {
  const { mkdtemp, rm, realpath } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'grove-dash-watch-')));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const [d] = await dashCell(t);
  const { cookie, csrf } = await d!.login();
  const folders = async () => ((await d!.inject({ url: '/api/watch', cookie })).json() as { folders: { root: string; state: string }[] }).folders;
  assert.deepEqual(await folders(), []);
  assert.equal((await d!.inject({ method: 'POST', url: '/api/watch', cookie, json: { dir } })).statusCode, 403);
  assert.deepEqual(await folders(), []);
  assert.equal((await d!.inject({ method: 'POST', url: '/api/watch', cookie, csrf, json: {} })).statusCode, 400);
  assert.equal((await d!.inject({ method: 'POST', url: '/api/watch', cookie, csrf, json: { dir: 'relative/dir' } })).statusCode, 400);
  const add = await d!.inject({ method: 'POST', url: '/api/watch', cookie, csrf, json: { dir } });
  assert.equal(add.statusCode, 200, add.body);
  const listed = await folders();
  assert.deepEqual(listed.map((f) => f.root), [dir]);
  assert.equal(typeof listed[0]!.state, 'string');
  const remove = await d!.inject({ method: 'POST', url: '/api/watch/remove', cookie, csrf, json: { dir } });
  assert.equal(remove.statusCode, 200, remove.body);
  assert.deepEqual(await folders(), []);
});

test('delete: one stored file by path or manifest hash; it leaves the list; never a folder or a guess', async (t) => {
  const [d] = await dashCell(t);
  const { cookie, csrf } = await d!.login();
  const put = async (name: string) => {
    const r = await d!.inject({ method: 'PUT', url: `/api/upload?name=${name}`, cookie, csrf, body: randomBytes(1000), headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(r.statusCode, 200, r.body);
    return (r.json() as { file: { path: string; manifest_hash: string } }).file;
  };
  const a = await put('a.bin');
  const b = await put('b.bin');
  const del = (json: unknown, token: string | null = csrf) => d!.inject({ method: 'POST', url: '/api/files/delete', cookie, ...(token ? { csrf: token } : {}), json });
  assert.equal((await del({ path: a.path }, null)).statusCode, 403);
  assert.equal((await del({})).statusCode, 400);
  assert.equal((await del({ path: a.path, manifest_hash: a.manifest_hash })).statusCode, 400);
  assert.equal((await del({ path: a.path, version: 0 })).statusCode, 400);
  // The folder holding both files is not a file: refused, nothing deleted.
  const folder = a.path.slice(0, a.path.lastIndexOf('/'));
  assert.equal((await del({ path: folder })).statusCode, 404);
  assert.equal((await del({ path: 'a.bin' })).statusCode, 404);
  assert.equal(lsRows(d!.tc.cell.home.db).length, 2);
  const ok = await del({ path: a.path });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual((ok.json() as { files: { path: string }[] }).files.map((f) => f.path), [a.path]);
  const byHash = await del({ manifest_hash: b.manifest_hash, version: 1 });
  assert.equal(byHash.statusCode, 200, byHash.body);
  const list = await d!.inject({ url: '/api/files', cookie });
  assert.equal((list.json() as { total: number }).total, 0);
});

test('settings: relay.urls is shown saved and running, and changed with the validation of `grove config set`', async (t) => {
  const [d] = await dashCell(t);
  const { cookie, csrf } = await d!.login();
  const get = async () => (await d!.inject({ url: '/api/settings', cookie })).json() as { saved: Record<string, unknown>; running: Record<string, unknown>; relays: unknown[] };
  const before = await get();
  assert.deepEqual(before.saved['relay.urls'], []);
  assert.deepEqual(before.running['relay.urls'], []);
  assert.deepEqual(before.relays, []);
  const set = (value: unknown) => d!.inject({ method: 'POST', url: '/api/settings', cookie, csrf, json: { key: 'relay.urls', value } });
  for (const bad of [['http://relay.example:80'], ['ws://relay.example:80/path'], Array.from({ length: 9 }, (_, i) => `ws://r${i}.example:1`)]) {
    const r = await set(bad);
    assert.equal(r.statusCode, 400, `${JSON.stringify(bad)}: ${r.body}`);
  }
  const ok = await set(['ws://127.0.0.1:9', 'wss://relay.example:443']);
  assert.equal(ok.statusCode, 200, ok.body);
  assert.deepEqual(ok.json(), { key: 'relay.urls', value: ['ws://127.0.0.1:9', 'wss://relay.example:443'], restart_needed: true });
  const after = await get();
  assert.deepEqual(after.saved['relay.urls'], ['ws://127.0.0.1:9', 'wss://relay.example:443']);
  assert.deepEqual(after.running['relay.urls'], [], 'the running cell keeps what it started with');
  assert.equal((await set([])).statusCode, 200);
  assert.deepEqual((await get()).saved['relay.urls'], []);
});
