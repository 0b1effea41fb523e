// `npm run bench:dashboard`: the dashboard in headless Chromium on loopback.
//   - first paint and time to interactive of the page (the login form, then the Overview);
//   - a signed-in reload: navigation until the Overview shows the cell's figures;
//   - page weight: JS + CSS + HTML as served (gzip);
//   - the Files page with 10 000 files in the catalog: time to show it, and to filter it.
// Two real cells, paired; a few real files ingested; the 10 000 catalog rows are written
// straight into the `files` table (one chunk each, objects recorded), as 10 000 `grove add`s
// would leave them, because ingesting them would measure ingest, not the page.
//
//   npm run bench:dashboard -- [--runs 5] [--files 10000] [--screenshots DIR] [--page-only] [--against DIR]
//
// --page-only measures the page's load (paint, interactive, signed-in reload) and skips the
// 10 000 files. --against DIR also measures the page of another built Grove checkout (e.g.
// an older commit: `git archive REV | tar -x -C DIR`, node_modules linked, `npm run build`
// there), alternating runs with this one in the same browser: before and after under the
// same load.
//
// --screenshots DIR skips the 10 000 rows and saves DIR/dashboard.png (Overview) and
// DIR/dashboard-files.png (Files) of a small, realistic cell instead.

import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { pino } from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { initHome } from '../src/home/home.js';
import { createCell, type Cell } from '../src/cell.js';
import { createInvite, pairWithCode } from '../src/peers/pairing.js';
import { addFile } from '../src/ingest/add.js';
import { SealPool } from '../src/ingest/pool.js';
import { insertVersion } from '../src/ingest/files.js';
import { recordObjects } from '../src/store/catalog.js';
import { defaultAssetsDir } from '../src/web/assets.js';
import { launchChromium } from '../test/helpers/browser.js';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

const RUNS = Number(arg('runs', '5'));
const FILES = Number(arg('files', '10000'));
const SHOTS = arg('screenshots', '');
const PAGE_ONLY = process.argv.includes('--page-only');
const AGAINST = arg('against', '');
const PASSWORD = 'bench-password-1';

/** Notes when the Overview's figures first appear (performance.now(), from navigation start). */
const SHOWN_AT = `new MutationObserver((_m, o) => {
  if (document.querySelector('[data-testid="last-sync"]')) { window.groveShownAt = performance.now(); o.disconnect(); }
}).observe(document, { childList: true, subtree: true });`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (fastest ${Math.min(...xs).toFixed(0)}, slowest ${Math.max(...xs).toFixed(0)})`;

async function cellAt(base: string, name: string): Promise<Cell> {
  const home = join(base, name);
  initHome(home, { name, password: PASSWORD, passwordIterations: 600_000 });
  // Two cells can hold one peer copy each: the screenshots show a healthy pair.
  if (SHOTS) writeFileSync(join(home, 'config.json'), JSON.stringify({ name, replication: { factor: 1 } }));
  const c = await createCell({
    home, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), control: false,
    intervals: { probeMs: 0, syncMs: 0 }, dashboard: { host: '127.0.0.1', port: 0 },
  });
  await c.start();
  return c;
}

async function addReal(cell: Cell, dir: string, files: [string, number][]): Promise<void> {
  const pool = new SealPool();
  try {
    for (const [name, size] of files) {
      const p = join(dir, name);
      writeFileSync(p, randomBytes(size));
      await addFile({ home: cell.home, pool }, p);
    }
  } finally {
    await pool.close();
  }
}

const WORDS = ['invoice', 'holiday', 'scan', 'notes', 'budget', 'photo', 'draft', 'report', 'backup', 'song'];

function addCatalogRows(cell: Cell, n: number): void {
  const db = cell.home.db;
  const now = Date.now();
  db.transaction(() => {
    const objects: { hash: string; size: number; kind: 'chunk' | 'manifest'; owner: string }[] = [];
    for (let i = 0; i < n; i++) {
      const h = (s: string) => createHash('sha256').update(`${i}/${s}`).digest('hex');
      const name = `${WORDS[i % WORDS.length]}-${String(i).padStart(5, '0')}.dat`;
      const size = 1000 + ((i * 7919) % 5_000_000);
      insertVersion(db, {
        path: `/data/${WORDS[(i >> 3) % WORDS.length]}/${name}`, name, version: 1, size,
        file_hash: h('file'), manifest_hash: h('manifest'), chunks: 1, added_at: now - i * 1000,
      }, [{ index: 0, hash: h('chunk'), size: size + 16 }]);
      objects.push({ hash: h('manifest'), size: 400, kind: 'manifest', owner: cell.id }, { hash: h('chunk'), size: size + 16, kind: 'chunk', owner: cell.id });
    }
    recordObjects(db, objects, now);
  })();
}

async function login(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Dashboard password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('cell-name').waitFor();
}

interface PageLoad {
  ctx: BrowserContext;
  page: Page;
  paint: number;
  tti: number;
  /** Sign-in until the Overview is shown (PBKDF2 included). */
  login: number;
  reload: number;
}

/** One fresh browser profile: the page's first load, sign-in, then a signed-in reload. */
async function pageLoad(browser: Browser, url: string, password: string): Promise<PageLoad> {
  const ctx = await browser.newContext();
  const page = await ctx.newPage();
  await page.goto(url);
  await page.getByLabel('Dashboard password').waitFor();
  // Time to interactive: navigation start until the page has rendered its login form
  // (the app's `grove:interactive` mark: script loaded, session known, form on screen).
  const m = await page.evaluate(`({
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
    tti: performance.getEntriesByName('grove:interactive')[0]?.startTime ?? NaN,
  })`) as { fcp: number; tti: number };
  await page.getByLabel('Dashboard password').fill(password);
  const t0 = Date.now();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('cell-name').waitFor();
  const login = Date.now() - t0;
  // Signed in, a reload: navigation start until the Overview shows the cell's figures
  // (noted by the page itself as it happens, not when the driver next looks).
  await page.addInitScript(SHOWN_AT);
  await page.reload();
  await page.getByTestId('last-sync').waitFor();
  const reload = await page.evaluate('window.groveShownAt') as number;
  return { ctx, page, paint: m.fcp, tti: m.tti, login, reload };
}

/** A cell of another built checkout (its own modules and page), for --against. */
async function otherCell(root: string, base: string): Promise<{ cell: Cell; url: string; password: string }> {
  const dist = resolve(root, 'dist/src');
  const homeMod = await import(pathToFileURL(join(dist, 'home/home.js')).href) as typeof import('../src/home/home.js');
  const cellMod = await import(pathToFileURL(join(dist, 'cell.js')).href) as typeof import('../src/cell.js');
  const home = join(base, 'other');
  const password = PASSWORD;
  homeMod.initHome(home, { name: 'other', password, passwordIterations: 1000 });
  const cell = await cellMod.createCell({
    home, host: '127.0.0.1', port: 0, logger: pino({ level: 'silent' }), control: false,
    intervals: { probeMs: 0, syncMs: 0 }, dashboard: { host: '127.0.0.1', port: 0 },
  });
  await cell.start();
  return { cell, url: cell.dashboard!.url!, password };
}

async function main(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'grove-bench-dash-'));
  const work = mkdtempSync(join(tmpdir(), 'grove-bench-dash-files-'));
  const browser = await launchChromium();
  const cells: Cell[] = [];
  try {
    const a = await cellAt(base, SHOTS ? 'nas' : 'alpha');
    const b = await cellAt(base, SHOTS ? 'laptop' : 'beta');
    cells.push(a, b);
    await pairWithCode(b, createInvite(a).code);
    await a.probeAndBench();
    await addReal(a, work, SHOTS
      ? [['tax-return-2025.pdf', 812_345], ['family photos.zip', 9_400_000], ['thesis-final-v3.docx', 254_000], ['music-library.tar', 5_100_000], ['passport-scan.png', 1_310_000]]
      : [['report.pdf', 300_000], ['photos.zip', 5_000_000]]);
    await a.sync.service.runNow();
    const url = a.dashboard!.url!;

    if (SHOTS) {
      await b.chat.send(a.id, 'Got the photos, thanks!');
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
      const page = await ctx.newPage();
      await login(page, url);
      await page.getByTestId('last-sync').waitFor();
      await page.screenshot({ path: join(SHOTS, 'dashboard.png') });
      await page.goto(`${url}/#/files`);
      await page.getByTestId('file-row').first().waitFor();
      await page.screenshot({ path: join(SHOTS, 'dashboard-files.png') });
      const phone = await browser.newContext({ viewport: { width: 390, height: 800 }, deviceScaleFactor: 1 });
      const pp = await phone.newPage();
      await login(pp, url);
      await pp.goto(`${url}/#/files`);
      await pp.getByTestId('file-row').first().waitFor();
      await pp.screenshot({ path: join(SHOTS, 'dashboard-phone.png') });
      console.log(`screenshots in ${SHOTS}`);
      return;
    }

    if (!PAGE_ONLY) addCatalogRows(a, FILES);
    // Page weight as served (the server sends gzip to browsers that accept it): the page and
    // its script and stylesheet (content-hashed names).
    const dir = defaultAssetsDir();
    const weight = readdirSync(dir).filter((f) => /\.(html|js|css)$/.test(f)).map((f) => {
      const raw = readFileSync(join(dir, f));
      return { f, raw: raw.length, gz: gzipSync(raw, { level: 9 }).length };
    });
    // One file name the filter finds alone (e.g. budget-04214 of 10 000).
    const probe = Math.min(4214, FILES - 1);
    const probeName = `${WORDS[probe % WORDS.length]}-${String(probe).padStart(5, '0')}`;

    const paint: number[] = [];
    const tti: number[] = [];
    const overview: number[] = [];
    const reload: number[] = [];
    const filesShow: number[] = [];
    const filesFilter: number[] = [];
    const filesNext: number[] = [];
    const other = AGAINST ? await otherCell(AGAINST, base) : undefined;
    if (other) cells.push(other.cell);
    const theirs = { paint: [] as number[], tti: [] as number[], reload: [] as number[] };
    const measureOther = async () => {
      if (!other) return;
      const o = await pageLoad(browser, other.url, other.password);
      theirs.paint.push(o.paint);
      theirs.tti.push(o.tti);
      theirs.reload.push(o.reload);
      await o.ctx.close();
    };
    for (let r = 0; r < RUNS; r++) {
      // Alternate which build goes first, so neither always meets a warmer machine.
      if (r % 2 === 1) await measureOther();
      const { ctx, page, ...m } = await pageLoad(browser, url, PASSWORD);
      paint.push(m.paint);
      tti.push(m.tti);
      overview.push(m.login);
      reload.push(m.reload);
      if (r % 2 === 0) await measureOther();
      if (PAGE_ONLY) {
        await ctx.close();
        continue;
      }

      let t0 = Date.now();
      await page.getByRole('link', { name: 'Files', exact: true }).click();
      await page.getByTestId('files-count').filter({ hasText: `${(FILES + 2).toLocaleString('en-US')} files` }).waitFor();
      await page.getByTestId('file-row').nth(99).waitFor();
      filesShow.push(Date.now() - t0);

      t0 = Date.now();
      await page.getByTestId('files-filter').fill(probeName);
      await page.getByTestId('files-count').filter({ hasText: /^1 file$/ }).waitFor();
      filesFilter.push(Date.now() - t0);

      await page.getByTestId('files-filter').fill('');
      await page.getByTestId('files-count').filter({ hasText: `${(FILES + 2).toLocaleString('en-US')} files` }).waitFor();
      const first = await page.getByTestId('file-row').first().innerText();
      t0 = Date.now();
      await page.getByRole('button', { name: 'Next' }).click();
      await page.getByTestId('file-row').first().filter({ hasNotText: first.split('\t')[0]! }).waitFor();
      filesNext.push(Date.now() - t0);
      await ctx.close();
    }
    const total = weight.reduce((n, w) => n + w.gz, 0);
    console.log(`dashboard on loopback, Chromium headless, ${RUNS} runs`);
    console.log(`  first contentful paint:        ${fmt(paint)}`);
    console.log(`  time to interactive (login):   ${fmt(tti)}`);
    console.log(`  login → Overview shown:        ${fmt(overview)}  (PBKDF2-SHA256, 600 000 iterations, included)`);
    console.log(`  signed-in reload → Overview:   ${fmt(reload)}`);
    if (other) {
      console.log(`  against ${AGAINST}, same runs interleaved:`);
      console.log(`    first contentful paint:      ${fmt(theirs.paint)}`);
      console.log(`    time to interactive (login): ${fmt(theirs.tti)}`);
      console.log(`    signed-in reload → Overview: ${fmt(theirs.reload)}`);
    }
    if (!PAGE_ONLY) {
      console.log(`  Files page, ${FILES} files shown: ${fmt(filesShow)}`);
      console.log(`  Files filter (to 1 of ${FILES}): ${fmt(filesFilter)}  (incl. 120 ms typing debounce)`);
      console.log(`  Files next page:               ${fmt(filesNext)}`);
    }
    console.log(`  page weight (gzip): ${weight.map((w) => `${w.f} ${(w.gz / 1024).toFixed(1)} KB`).join(', ')}; total ${(total / 1024).toFixed(1)} KB`);
  } finally {
    for (const c of cells.reverse()) await c.stop();
    await browser.close();
    rmSync(base, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
