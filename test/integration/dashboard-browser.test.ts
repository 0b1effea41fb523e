import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { startCells, pairCells } from '../helpers/cells.js';
import { runGrove, tempDir } from '../helpers/ingest.js';
import { launchChromium, openDashboard, login } from '../helpers/browser.js';

// The dashboard in real headless Chromium over real cells on loopback: login, Files (what
// `grove add` stored, upload, byte-identical download), sharing into the other cell's Feed
// and chat both ways without reloading, the Peers page, pairing through the UI.

let browser: Browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
});

test('login: a wrong password is refused with a message; the right one opens the Overview', async (t) => {
  const [a] = await startCells(t, 1, { dashboard: true });
  const { page } = await openDashboard(t, browser, a!, { login: false });
  await page.getByLabel('Dashboard password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('login-error').waitFor();
  assert.match(await page.getByTestId('login-error').innerText(), /Wrong password/);
  await login(page, 'test-password');
  assert.equal(await page.getByTestId('cell-name').innerText(), 'alpha');
  assert.equal(await page.getByTestId('cell-id').innerText(), a!.id);
  // The session survives a reload (HttpOnly cookie), and sign-out ends it.
  await page.reload();
  await page.getByTestId('cell-name').waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('Dashboard password').waitFor();
  await page.reload();
  await page.getByLabel('Dashboard password').waitFor();
});

test('two paired cells: files, upload and download, share into the Feed live, chat both ways live, peers', async (t) => {
  const [a, b] = await startCells(t, 2, { dashboard: true });
  await pairCells(a!, b!);
  await a!.cell.probeAndBench();
  await b!.cell.probeAndBench();
  const dir = await tempDir(t);

  await t.test('the Files page lists what `grove add` stored', async (t) => {
    const path = join(dir, 'notes <img src=x onerror=alert(1)>.txt');
    await writeFile(path, 'hello from the CLI\n');
    const r = await runGrove(a!.root, ['add', path]);
    assert.equal(r.code, 0, r.stderr);
    const { page } = await openDashboard(t, browser, a!);
    await page.goto(`${a!.cell.dashboard!.url}/#/files`);
    const row = page.getByTestId('file-row').filter({ hasText: 'notes <img src=x' });
    await row.waitFor();
    assert.match(await row.innerText(), /19 B/);
    // Peer- or user-supplied names are text, never markup.
    assert.equal(await page.locator('td.name img').count(), 0);
  });

  await t.test('upload from the browser, then download it back byte-identical', async (t) => {
    const bytes = randomBytes(9 * 1024 * 1024 + 17);
    const src = join(dir, 'photo.raw');
    await writeFile(src, bytes);
    const { page } = await openDashboard(t, browser, a!);
    await page.goto(`${a!.cell.dashboard!.url}/#/files`);
    await page.locator('#upload-input').setInputFiles(src);
    await page.getByTestId('upload').filter({ hasText: 'stored' }).waitFor();
    const row = page.getByTestId('file-row').filter({ hasText: 'photo.raw' });
    await row.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: 'Download photo.raw' }).click()]);
    assert.equal(download.suggestedFilename(), 'photo.raw');
    const saved = join(dir, 'downloaded.raw');
    await download.saveAs(saved);
    assert.ok((await readFile(saved)).equals(bytes), 'downloaded bytes differ');
  });

  await t.test("share from alpha's dashboard; it appears in beta's Feed without reloading", async (t) => {
    const { page: pb } = await openDashboard(t, browser, b!);
    await pb.goto(`${b!.cell.dashboard!.url}/#/feed`);
    await pb.getByText('Nothing shared with this cell yet').waitFor();
    const { page: pa } = await openDashboard(t, browser, a!);
    await pa.goto(`${a!.cell.dashboard!.url}/#/files`);
    const row = pa.getByTestId('file-row').filter({ hasText: 'photo.raw' });
    await row.getByRole('button', { name: 'Share photo.raw' }).click();
    await pa.getByLabel('beta').check();
    await pa.getByTestId('share-submit').click();
    await pa.getByText('beta: delivered').waitFor();
    const item = pb.getByTestId('feed-row').filter({ hasText: 'photo.raw' });
    await item.waitFor();
    assert.match(await item.innerText(), /alpha/);
    // The chunks follow the grant; the row says so once every byte is here, still without a reload.
    await item.filter({ hasText: 'every byte here' }).waitFor();
  });

  await t.test('chat both ways, live, with unread counts', async (t) => {
    const { page: pa } = await openDashboard(t, browser, a!);
    const { page: pb } = await openDashboard(t, browser, b!);
    await pb.goto(`${b!.cell.dashboard!.url}/#/overview`);
    await pa.goto(`${a!.cell.dashboard!.url}/#/chat/${b!.id}`);
    await pa.getByText('No messages with beta yet').waitFor();
    await pa.getByLabel('Message to beta').fill('hi beta, <b>not bold</b>');
    await pa.getByLabel('Message to beta').press('Enter');
    await pa.getByTestId('message').filter({ hasText: 'delivered' }).waitFor();
    // beta, elsewhere in its dashboard, sees an unread count appear, then the message.
    await pb.getByTestId('unread-total').filter({ hasText: '1' }).waitFor();
    await pb.getByRole('link', { name: /Chat/ }).click();
    const incoming = pb.getByTestId('message').filter({ hasText: 'hi beta' });
    await incoming.waitFor();
    assert.equal(await incoming.locator('.bubble').innerText(), 'hi beta, <b>not bold</b>');
    await pb.getByTestId('unread-total').waitFor({ state: 'detached' });
    await pb.getByLabel('Message to alpha').fill('hello alpha');
    await pb.getByRole('button', { name: 'Send' }).click();
    await pa.getByTestId('message').filter({ hasText: 'hello alpha' }).waitFor();
  });

  await t.test('the Peers page shows routes and health', async (t) => {
    const { page } = await openDashboard(t, browser, a!);
    await page.goto(`${a!.cell.dashboard!.url}/#/peers`);
    const peer = page.getByTestId('peer').filter({ hasText: 'beta' });
    await peer.waitFor();
    assert.equal(await peer.getByTestId('peer-state').innerText(), 'online');
    const route = peer.getByTestId('route').first();
    assert.match(await route.innerText(), new RegExp(b!.url.replace(/[.]/g, '\\.')));
    assert.match(await route.innerText(), /direct/);
    assert.match(await route.innerText(), /\d+\.\d ms/);
    assert.match(await route.innerText(), /best/);
    await peer.getByRole('button', { name: 'Prefer beta' }).click();
    await peer.getByRole('button', { name: 'Stop preferring beta' }).waitFor();
    assert.equal(a!.cell.peers.get(b!.id)?.preferred, true);
  });
});

test('pair two cells through the UI with an invite code', async (t) => {
  const [c, d] = await startCells(t, 2, { dashboard: true, names: ['gamma', 'delta'] });
  const { page: pc } = await openDashboard(t, browser, c!);
  const { page: pd } = await openDashboard(t, browser, d!);
  await pc.goto(`${c!.cell.dashboard!.url}/#/peers`);
  await pd.goto(`${d!.cell.dashboard!.url}/#/peers`);
  await pc.getByText('No peers yet').waitFor();
  await pc.getByRole('button', { name: 'Create invite code' }).click();
  const code = await pc.getByTestId('invite-code').inputValue();
  assert.ok(code.length > 20);
  await pd.getByTestId('pair-code').fill(code);
  await pd.getByRole('button', { name: 'Pair' }).click();
  assert.equal(await pd.getByTestId('pair-done').innerText(), 'Paired with gamma.');
  await pd.getByTestId('peer').filter({ hasText: 'gamma' }).waitFor();
  // The inviter's page learns of its new peer live.
  await pc.getByTestId('peer').filter({ hasText: 'delta' }).waitFor();
  assert.ok(c!.cell.peers.get(d!.id));
  // The code is single-use: a second try says so.
  await pd.getByTestId('pair-code').fill(code);
  await pd.getByRole('button', { name: 'Pair' }).click();
  await pd.getByRole('alert').waitFor();
});
