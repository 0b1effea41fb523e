import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { pino } from 'pino';
import { startCells, pairCells, waitFor } from '../helpers/cells.js';
import { runGrove, tempDir } from '../helpers/ingest.js';
import { launchChromium, openDashboard } from '../helpers/browser.js';
import { makeInstallation, ROOT } from '../helpers/releases.js';
import { generateReleaseKey, loadReleaseKey } from '../../src/update/release-key.js';
import { buildBundle } from '../../src/update/pack.js';
import { RelayServer } from '../../src/relay/server.js';
import { MdnsDiscovery } from '../../src/discovery/mdns.js';
import { announcementRecords } from '../../src/discovery/records.js';
import { registerDiscoveryControl } from '../../src/discovery/control.js';
import { ControlRegistry } from '../../src/daemon/control.js';
import { Dashboard } from '../../src/web/server.js';
import { lsRows } from '../../src/ingest/list.js';

// The dashboard's running-the-cell pages in real headless Chromium over real cells on
// loopback: an update offer accepted on the Updates page, Delete on the Files page, watched
// folders and relays in Settings, nearby cells on the Peers page.

let browser: Browser;
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
});

const RUNNING = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const [MAJ, MIN] = RUNNING.split('.').map(Number) as [number, number];

test('Updates: a trusted build a peer offers is listed, and Accept marks it accepted', async (t) => {
  const dir = await tempDir(t, 'grove-dash-update-');
  const pub = generateReleaseKey(join(dir, 'release.key'));
  const version = `${MAJ}.${MIN + 1}.0`;
  const tree = await makeInstallation(join(dir, 'next'), version);
  const m = await buildBundle({ from: tree, key: loadReleaseKey(join(dir, 'release.key')), out: join(dir, 'next.bundle'), now: Date.now(), ttlMs: 86_400_000 });
  const [a, b] = await startCells(t, 2, { dashboard: true, config: { update: { trusted_keys: [pub], max_bundle_bytes: 512 * 1024 ** 2 } } });
  await a!.cell.updates.importBundle(join(dir, 'next.bundle'));
  await pairCells(a!, b!);
  // beta's sync exchange with alpha: the build becomes an offer from alpha.
  assert.ok(await b!.cell.updates.exchange({ peerId: a!.id, url: a!.url }));

  const { page, url } = await openDashboard(t, browser, b!);
  await page.goto(`${url}/#/updates`);
  assert.equal(await page.getByTestId('update-current').innerText(), RUNNING);
  const offer = page.getByTestId('update-offer').filter({ hasText: version });
  await offer.waitFor();
  assert.match(await offer.innerText(), /alpha/);
  assert.match(await offer.innerText(), /offered/);
  await offer.getByRole('button', { name: `Accept ${version}` }).click();
  assert.match(await page.getByTestId('update-note').innerText(), new RegExp(`Accepted ${version.replace(/\./g, '\\.')}: it is installed at the next start`));
  await offer.filter({ hasText: 'accepted' }).waitFor();
  assert.equal(b!.cell.updates.list().offers.find((o) => o.build_hash === m.build_hash)?.state, 'accepted');
});

test('Files: Delete asks first, then removes the file from the list', async (t) => {
  const [a] = await startCells(t, 1, { dashboard: true });
  const dir = await tempDir(t);
  for (const name of ['keep.txt', 'drop.txt']) {
    await writeFile(join(dir, name), `${name}\n`);
    const r = await runGrove(a!.root, ['add', join(dir, name)]);
    assert.equal(r.code, 0, r.stderr);
  }
  const { page, url } = await openDashboard(t, browser, a!);
  await page.goto(`${url}/#/files`);
  const row = page.getByTestId('file-row').filter({ hasText: 'drop.txt' });
  await row.waitFor();
  // Cancelled: nothing happens.
  page.once('dialog', (d) => void d.dismiss());
  await row.getByRole('button', { name: 'Delete drop.txt' }).click();
  await row.getByRole('button', { name: 'Delete drop.txt' }).and(page.locator(':enabled')).waitFor();
  assert.equal(lsRows(a!.cell.home.db).length, 2);
  // Confirmed: the row goes, the other stays.
  page.once('dialog', (d) => {
    assert.match(d.message(), /Delete drop\.txt/);
    void d.accept();
  });
  await row.getByRole('button', { name: 'Delete drop.txt' }).click();
  await row.waitFor({ state: 'detached' });
  await page.getByTestId('file-row').filter({ hasText: 'keep.txt' }).waitFor();
  assert.deepEqual(lsRows(a!.cell.home.db).map((r) => r.name), ['keep.txt']);
});

test('Settings: a watched folder is added, a file dropped in it shows up in Files live, and the folder is removed', async (t) => {
  const [a] = await startCells(t, 1, { dashboard: true, config: { watch: { settle_ms: 100, ignore: [], rescan_s: 3600 } } });
  const folder = await realpath(await tempDir(t, 'grove-dash-watched-'));
  const { page, url } = await openDashboard(t, browser, a!);
  await page.goto(`${url}/#/settings`);
  const card = page.getByTestId('watched');
  await card.getByText('No watched folder').waitFor();
  await page.getByLabel('Folder on the cell’s machine (absolute path)').fill('relative/path');
  await card.getByRole('button', { name: 'Watch', exact: true }).click();
  await card.getByRole('alert').filter({ hasText: 'absolute path' }).waitFor();
  await page.getByLabel('Folder on the cell’s machine (absolute path)').fill(folder);
  await card.getByRole('button', { name: 'Watch', exact: true }).click();
  const listed = card.getByTestId('watched-folder').filter({ hasText: folder });
  await listed.filter({ hasText: 'watching' }).waitFor();

  // A second tab on Files sees the dropped file appear without a reload.
  const { page: files } = await openDashboard(t, browser, a!);
  await files.goto(`${url}/#/files`);
  await files.getByText('No files yet', { exact: false }).first().waitFor();
  await writeFile(join(folder, 'dropped.bin'), randomBytes(50_000));
  await files.getByTestId('file-row').filter({ hasText: 'dropped.bin' }).waitFor();
  // The folder's card counts it (a live settings update).
  await listed.filter({ hasText: '1 files' }).waitFor();

  await listed.getByRole('button', { name: `Stop watching ${folder}` }).click();
  await card.getByText('No watched folder').waitFor();
  assert.deepEqual(a!.cell.watch.list(), []);
});

test('Settings: relays are listed with their state, added with the same validation as grove config set, and removed', async (t) => {
  const relay = new RelayServer({ host: '127.0.0.1', port: 0 });
  const relayUrl = await relay.start();
  t.after(() => relay.stop());
  const [a] = await startCells(t, 1, { dashboard: true, config: { relay: { urls: [relayUrl], token: '' } } });
  await waitFor(() => relay.stats().cells === 1 && a!.cell.dashboardComponents().relays()[0]?.connected, 'alpha listening on the relay');
  const config = () => (JSON.parse(readFileSync(a!.cell.home.paths.config, 'utf8')) as { relay: { urls: string[] } }).relay.urls;

  const { page, url } = await openDashboard(t, browser, a!);
  await page.goto(`${url}/#/settings`);
  const card = page.getByTestId('relays');
  const first = card.getByTestId('relay').filter({ hasText: relayUrl });
  assert.equal(await first.getByTestId('relay-state').innerText(), 'connected');

  // Not a relay URL: refused with the parser's own message, nothing saved.
  await page.getByLabel('Add a relay').fill('https://relay.example:443/path');
  await card.getByRole('button', { name: 'Add relay' }).click();
  await card.getByRole('alert').filter({ hasText: 'relay URLs are ws://HOST:PORT or wss://HOST:PORT' }).waitFor();
  assert.deepEqual(config(), [relayUrl]);

  const second = 'ws://127.0.0.1:9';
  await page.getByLabel('Add a relay').fill(second);
  await card.getByRole('button', { name: 'Add relay' }).click();
  const added = card.getByTestId('relay').filter({ hasText: second });
  assert.equal(await added.getByTestId('relay-state').innerText(), 'at the next start');
  assert.deepEqual(config(), [relayUrl, second]);
  await card.getByRole('status').filter({ hasText: 'Restart the cell' }).waitFor();

  await first.getByRole('button', { name: `Remove relay ${relayUrl}` }).click();
  await first.waitFor({ state: 'detached' });
  assert.match(await card.getByTestId('relays-leaving').innerText(), new RegExp(relayUrl.replace(/[.]/g, '\\.')));
  assert.deepEqual(config(), [second]);
});

test('Peers: cells seen nearby (mDNS sightings) are listed, not paired', async (t) => {
  const [a, b] = await startCells(t, 2, { names: ['alpha', 'beta'] });
  // The cells listen on loopback, so none runs discovery (nothing is announced on a real
  // interface). A discovery that never opens its socket is fed beta's announcement, as
  // the discovery tests do, and answers the dashboard's `nearby` command.
  const cell = a!.cell;
  const discovery = new MdnsDiscovery({
    selfId: cell.id, port: () => cell.port, clock: cell.clock, log: pino({ level: 'silent' }), addLoop: () => {},
    peers: cell.peers, confirm: async () => false, onRoute: () => {},
  }, { name: '', intervalMs: 30_000 });
  const nearby = new ControlRegistry();
  registerDiscoveryControl(nearby, discovery);
  const control = new (class extends ControlRegistry {
    override handle(name: string, params: Record<string, unknown>, signal: AbortSignal): Promise<unknown> {
      return (nearby.has(name) ? nearby : cell.control).handle(name, params, signal);
    }
  })();
  const dash = new Dashboard({ ...cell.dashboardComponents(), control }, { host: '127.0.0.1', port: 0 });
  await dash.start();
  t.after(() => dash.stop());
  const r = announcementRecords({ id: b!.id, port: b!.port, name: 'beta', addresses: ['127.0.0.1'] });
  discovery.handleResponse([...r.answers, ...r.additionals], '127.0.0.1');

  const { page } = await openDashboard(t, browser, a!, { url: dash.url! });
  await page.goto(`${dash.url}/#/peers`);
  const seen = page.getByTestId('nearby-cell').filter({ hasText: 'beta' });
  await seen.waitFor();
  assert.match(await seen.innerText(), new RegExp(`https://127\\.0\\.0\\.1:${b!.port}`));
  await page.getByText('No peers yet').waitFor();
  assert.equal(cell.peers.get(b!.id), undefined, 'seen, never paired');
});
