import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeData, formatFigure, formatTable, rssRow, speedRow, startupRow } from '../../bench/report.js';
import { configureSyncthingXml } from '../../bench/syncthing.js';
import { median, parseSize } from '../../bench/lib.js';

// The verdicts of `npm run bench:all` (bench/report.ts) and the Syncthing config it writes:
// pure functions, checked without running any tool.

test('a speed row compares reference time to Grove time against an at-least target', () => {
  const r = speedRow('add 1 GiB', 2, 'restic', 6, 2.5);
  assert.equal(r.ratio, 3);
  assert.equal(r.status, 'pass');
  assert.equal(speedRow('add 1 GiB', 4, 'restic', 6, 2.5).status, 'fail');
  assert.equal(speedRow('x', 4, 'restic', 10, 2.5).status, 'pass'); // exactly on the target
});

test('a start-up row compares Grove time to the reference against an at-most target', () => {
  const r = startupRow('start-up grove id', 0.1, 'node -e 0', 0.05, 2.5);
  assert.equal(r.ratio, 2);
  assert.equal(r.status, 'pass');
  assert.equal(startupRow('start-up grove id', 0.2, 'node -e 0', 0.05, 2.5).status, 'fail');
});

test('a missing reference skips the row; a missing Grove figure fails it', () => {
  const skipped = speedRow('sync', 3, 'syncthing', undefined, 2, { ref: 'syncthing is not available' });
  assert.equal(skipped.status, 'skipped');
  assert.equal(skipped.ratio, undefined);
  assert.equal(skipped.note, 'syncthing is not available');
  const failed = speedRow('sync', undefined, 'syncthing', 1, 2, { grove: 'timed out' });
  assert.equal(failed.status, 'fail');
  assert.equal(failed.note, 'timed out');
  assert.equal(speedRow('sync', undefined, 'syncthing', undefined, 2).status, 'fail');
});

test('an RSS row holds Grove to the limit whatever the reference used', () => {
  assert.equal(rssRow('peak RSS cell A', 149e6, 'syncthing A', 300e6, 150).status, 'pass');
  assert.equal(rssRow('peak RSS cell A', 151e6, 'syncthing A', 50e6, 150).status, 'fail');
  assert.equal(rssRow('peak RSS cell A', undefined, undefined, undefined, 150, 'cell did not start').status, 'fail');
});

test('figures, data sizes and the table read as a person writes them', () => {
  assert.equal(formatFigure({ value: 0.0421, unit: 's' }), '42 ms');
  assert.equal(formatFigure({ value: 12.345, unit: 's' }), '12.35 s');
  assert.equal(formatFigure({ value: 98.6, unit: 'MB' }), '99 MB');
  assert.equal(describeData(1000, 64 * 1024), '1 000 × 64 KiB');
  assert.equal(describeData(1, 1024 ** 3), '1 GiB');
  assert.equal(describeData(16, 64 * 1024 ** 2), '16 × 64 MiB');
  const table = formatTable([speedRow('add 1 GiB', 2, 'restic', 6, 2.5), speedRow('sync', 3, 'syncthing', undefined, 2, { ref: 'not installed' })]);
  const lines = table.split('\n');
  assert.match(lines[0]!, /^work +grove +reference +ratio +target +result$/);
  assert.match(lines[2]!, /add 1 GiB +2\.00 s +restic 6\.00 s +3\.00x +≥ 2\.5x +pass/);
  assert.match(lines[3]!, /sync +3\.00 s +syncthing - +- +≥ 2x +skipped/);
  assert.equal(lines[4], '    not installed');
});

test('median and sizes', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(parseSize('64K'), 65536);
  assert.equal(parseSize('1GiB'), 1024 ** 3);
  assert.throws(() => parseSize('lots'));
});

const GENERATED = `<configuration version="36">
    <gui enabled="true" tls="false" debugging="false">
        <address>127.0.0.1:8384</address>
        <apikey>generated</apikey>
    </gui>
    <options>
        <listenAddress>default</listenAddress>
        <globalAnnounceEnabled>true</globalAnnounceEnabled>
        <localAnnounceEnabled>true</localAnnounceEnabled>
        <relaysEnabled>true</relaysEnabled>
        <startBrowser>true</startBrowser>
        <natEnabled>true</natEnabled>
        <urAccepted>0</urAccepted>
        <autoUpgradeIntervalH>12</autoUpgradeIntervalH>
        <crashReportingEnabled>true</crashReportingEnabled>
        <setLowPriority>true</setLowPriority>
        <stunKeepaliveStartS>180</stunKeepaliveStartS>
    </options>
    <defaults>
        <device id="" compression="metadata"><address>dynamic</address></device>
    </defaults>
</configuration>`;

test('the Syncthing config stays on loopback and reaches nothing beyond it', () => {
  const xml = configureSyncthingXml(GENERATED, { guiPort: 40001, listenPort: 40002, apiKey: 'k3y' });
  assert.match(xml, /<gui [^>]*>\s*<address>127\.0\.0\.1:40001<\/address>\s*<apikey>k3y<\/apikey>/);
  assert.match(xml, /<listenAddress>tcp:\/\/127\.0\.0\.1:40002<\/listenAddress>/);
  for (const off of ['globalAnnounceEnabled', 'localAnnounceEnabled', 'relaysEnabled', 'natEnabled', 'startBrowser', 'crashReportingEnabled', 'setLowPriority']) {
    assert.match(xml, new RegExp(`<${off}>false</${off}>`), off);
  }
  assert.match(xml, /<urAccepted>-1<\/urAccepted>/);
  assert.match(xml, /<autoUpgradeIntervalH>0<\/autoUpgradeIntervalH>/);
  assert.match(xml, /<stunKeepaliveStartS>0<\/stunKeepaliveStartS>/);
  assert.match(xml, /<device id="" compression="metadata"><address>dynamic<\/address><\/device>/, 'device addresses are left alone');
});

test('a Syncthing config without a setting the bench needs is refused', () => {
  assert.throws(() => configureSyncthingXml(GENERATED.replace(/<relaysEnabled>.*<\/relaysEnabled>/, ''), { guiPort: 1, listenPort: 2, apiKey: 'k' }), /relaysEnabled/);
});
