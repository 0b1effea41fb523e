import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { TestCell } from './cells.js';

// Real headless Chromium (Debian's `chromium`, driven by playwright-core; no browser download).

export const CHROMIUM = process.env.GROVE_CHROMIUM ?? '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set GROVE_CHROMIUM)`);
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
}

/** A fresh browser profile on a cell's dashboard (or another dashboard at `url`), closed after the test. */
export async function openDashboard(t: TestContext, browser: Browser, tc: TestCell, opts: { login?: string | false; url?: string } = {}): Promise<{ context: BrowserContext; page: Page; url: string }> {
  const url = opts.url ?? tc.cell.dashboard!.url!;
  const context = await browser.newContext({ acceptDownloads: true });
  t.after(() => context.close());
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(url);
  if (opts.login !== false) await login(page, opts.login ?? 'test-password');
  return { context, page, url };
}

export async function login(page: Page, password: string): Promise<void> {
  await page.getByLabel('Dashboard password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Pages' }).waitFor();
}
