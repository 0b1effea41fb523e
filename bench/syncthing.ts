// `node dist/bench/syncthing.js [--files 1000] [--file-size 64K]`: the same many-small-files
// transfer as `bench:sync -- --mode small`, done by Syncthing (Debian's `syncthing`, fsync on,
// discovery, relays and NAT off) between two instances on loopback, so Grove's figure can be
// read against it under the same machine load. Timed from the moment the receiver may connect
// (the sender has already scanned, as Grove's sender has already chunked) until the receiver
// holds every file. Prints one line of JSON.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

const API_KEY = 'grove-bench-key';

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : def;
}

function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(s.trim());
  if (!m) throw new Error(`bad size: ${s}`);
  return Number(m[1]) * { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G'];
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

interface Node { home: string; data: string; id: string; port: number; gui: number; proc?: ChildProcess }

function config(self: Node, other: Node, pausedPeer: boolean): string {
  const dev = (n: Node, paused: boolean) => `<device id="${n.id}" name="${n === self ? 'self' : 'peer'}" compression="never" introducer="false">
    <address>tcp://127.0.0.1:${n.port}</address><paused>${paused}</paused></device>`;
  return `<configuration version="36">
  <folder id="bench" label="bench" path="${self.data}" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="false" ignorePerms="false" autoNormalize="true">
    <filesystemType>basic</filesystemType>
    <device id="${self.id}"></device><device id="${other.id}"></device>
    <minDiskFree unit="%">0</minDiskFree>
    <disableFsync>false</disableFsync>
  </folder>
  ${dev(self, false)}
  ${dev(other, pausedPeer)}
  <gui enabled="true" tls="false"><address>127.0.0.1:${self.gui}</address><apikey>${API_KEY}</apikey></gui>
  <options>
    <listenAddress>tcp://127.0.0.1:${self.port}</listenAddress>
    <globalAnnounceEnabled>false</globalAnnounceEnabled>
    <localAnnounceEnabled>false</localAnnounceEnabled>
    <relaysEnabled>false</relaysEnabled>
    <natEnabled>false</natEnabled>
    <urAccepted>-1</urAccepted>
    <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
    <startBrowser>false</startBrowser>
    <crashReportingEnabled>false</crashReportingEnabled>
  </options>
</configuration>`;
}

async function rest<T>(n: Node, method: string, path: string): Promise<T> {
  const r = await fetch(`http://127.0.0.1:${n.gui}${path}`, { method, headers: { 'X-API-Key': API_KEY } });
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status}`);
  const text = await r.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

interface FolderStatus { state: string; localFiles: number; needFiles: number; globalFiles: number }

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 600_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function main(): Promise<void> {
  const files = Number(arg('files', '1000'));
  const size = parseSize(arg('file-size', '64K'));
  const base = mkdtempSync(join(tmpdir(), 'grove-bench-st-'));
  const nodes: Node[] = [];
  try {
    for (const name of ['a', 'b']) {
      const home = join(base, name);
      const r = spawnSync('syncthing', ['generate', `--home=${home}`, '--no-default-folder', '--skip-port-probing'], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`syncthing generate failed (is syncthing installed?): ${r.stderr}`);
      const id = /<device id="([A-Z0-9-]+)"/.exec(readFileSync(join(home, 'config.xml'), 'utf8'))![1]!;
      const data = join(base, `${name}-data`);
      mkdirSync(data);
      nodes.push({ home, data, id, port: await freePort(), gui: await freePort() });
    }
    const [a, b] = nodes as [Node, Node];
    for (let i = 0; i < files; i++) writeFileSync(join(a.data, `f${i}.bin`), randomBytes(size));
    spawnSync('sync');
    // B starts with A paused: it connects only when told to, after A has scanned its files.
    writeFileSync(join(a.home, 'config.xml'), config(a, b, false));
    writeFileSync(join(b.home, 'config.xml'), config(b, a, true));
    for (const n of nodes) {
      n.proc = spawn('syncthing', ['serve', `--home=${n.home}`, '--no-browser', '--no-restart', '--no-default-folder'], { stdio: 'ignore', env: { ...process.env, STNOUPGRADE: '1' } });
    }
    await until('A scanned', async () => {
      const s = await rest<FolderStatus>(a, 'GET', '/rest/db/status?folder=bench');
      return s.state === 'idle' && s.localFiles === files;
    });
    await until('B up', async () => (await rest<FolderStatus>(b, 'GET', '/rest/db/status?folder=bench')).state === 'idle');
    const t0 = performance.now();
    await rest(b, 'POST', `/rest/system/resume?device=${a.id}`);
    await until('B in sync', async () => {
      const s = await rest<FolderStatus>(b, 'GET', '/rest/db/status?folder=bench');
      return s.localFiles === files && s.needFiles === 0 && s.state === 'idle';
    });
    const seconds = (performance.now() - t0) / 1000;
    const got = readdirSync(b.data).filter((f) => f.endsWith('.bin'));
    if (got.length !== files || got.some((f) => statSync(join(b.data, f)).size !== size)) throw new Error(`B holds ${got.length} files, expected ${files}`);
    console.log(JSON.stringify({ tool: 'syncthing', files, file_bytes: size, seconds: Number(seconds.toFixed(2)), load: loadavg().map((x) => Number(x.toFixed(2))) }));
  } finally {
    for (const n of nodes) n.proc?.kill('SIGTERM');
    await Promise.all(nodes.map((n) => (n.proc && n.proc.exitCode === null ? new Promise((r) => n.proc!.once('exit', r)) : undefined)));
    rmSync(base, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
