import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { GROVE_BIN } from './ingest.js';
import { CLI_ENV } from './cli.js';

// A LAN of network namespaces for tests of cells on separate hosts: a bridge in the root
// namespace, one veth per namespace, addresses in a private /24 that exists only inside the
// namespaces, and a multicast route (mDNS needs one). Everything is removed after the test.

/** Why namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `grove-probe-${randomBytes(3).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe' });
    return undefined;
  } catch (e) {
    return `\`ip netns\` is unavailable (${(e as Error).message.split('\n')[0]})`;
  }
}

export interface Lan {
  /** Namespace names, one per host. */
  hosts: string[];
  /** Each host's address (10.x.y.(i+1)). */
  addresses: string[];
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

export function createLan(t: TestContext, n: number): Lan {
  const sfx = randomBytes(2).toString('hex');
  const bridge = `gbr${sfx}`;
  const net = `10.${200 + randomBytes(1)[0]! % 50}.${randomBytes(1)[0]! % 250}`;
  const hosts: string[] = [];
  const cleanup = () => {
    for (const h of hosts) { try { ip('netns', 'del', h); } catch { /* gone */ } }
    try { ip('link', 'del', bridge); } catch { /* gone */ }
  };
  t.after(cleanup);
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('link', 'set', bridge, 'up');
    for (let i = 0; i < n; i++) {
      const ns = `grove-${sfx}-${i}`;
      const outer = `gv${sfx}${i}`;
      const inner = `gp${sfx}${i}`;
      ip('netns', 'add', ns);
      hosts.push(ns);
      ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
      ip('link', 'set', inner, 'netns', ns);
      ip('-n', ns, 'link', 'set', inner, 'name', 'eth0');
      ip('-n', ns, 'addr', 'add', `${net}.${i + 1}/24`, 'dev', 'eth0');
      ip('-n', ns, 'link', 'set', 'eth0', 'up');
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0');
      ip('link', 'set', outer, 'master', bridge);
      ip('link', 'set', outer, 'up');
    }
  } catch (e) {
    cleanup();
    throw e;
  }
  return { hosts, addresses: hosts.map((_, i) => `${net}.${i + 1}`) };
}

export interface NsDaemon {
  child: ChildProcess;
  id: string;
  api_url: string;
  stderr: () => string;
}

/** `grove start` inside a namespace on 0.0.0.0:port; killed after the test if still running. */
export async function startInNamespace(t: TestContext, ns: string, home: string, port = 7420): Promise<NsDaemon> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, GROVE_BIN, '--home', home, '--json', 'start', '--port', String(port), '--host', '0.0.0.0'], {
    env: { ...process.env, ...CLI_ENV }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
  const lines = createInterface({ input: child.stdout! });
  const first = await Promise.race([
    once(lines, 'line').then(([l]) => l as string),
    once(child, 'exit').then(([code]) => { throw new Error(`grove start in ${ns} exited with ${code}: ${stderr}`); }),
  ]);
  const info = JSON.parse(first) as { id: string; api_url: string };
  return { child, ...info, stderr: () => stderr };
}
