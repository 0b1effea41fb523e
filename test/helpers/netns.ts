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

/**
 * The `grove` executable with `args` inside a namespace, until its first line of stdout (the
 * JSON its `--json` commands print once ready); killed after the test if still running.
 */
export async function groveInNamespace(t: TestContext, ns: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; first: string; stderr: () => string }> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, GROVE_BIN, ...args], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  });
  const first = await Promise.race([
    once(createInterface({ input: child.stdout! }), 'line').then(([l]) => l as string),
    once(child, 'exit').then(([code]) => { throw new Error(`grove ${args.filter((a) => !a.startsWith('-'))[0] ?? ''} in ${ns} exited with ${code}: ${stderr}`); }),
  ]);
  return { child, first, stderr: () => stderr };
}

/** `grove start` inside a namespace (default 0.0.0.0:7420); killed after the test if still running. */
export async function startInNamespace(t: TestContext, ns: string, home: string, port = 7420, host = '0.0.0.0'): Promise<NsDaemon> {
  const { child, first, stderr } = await groveInNamespace(t, ns,
    ['--home', home, '--json', 'start', '--port', String(port), '--host', host, '--dashboard-port', '0'], CLI_ENV);
  const info = JSON.parse(first) as { id: string; api_url: string };
  return { child, ...info, stderr };
}

/** Runs a command inside a namespace to completion and returns its stdout. */
export function inNamespace(ns: string, cmd: string, ...args: string[]): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

const CONNECT_PROBE = `
const s = require('node:net').connect({ host: process.argv[1], port: Number(process.argv[2]) });
const t = setTimeout(() => { console.log('TIMEOUT'); process.exit(0); }, Number(process.argv[3]));
s.once('connect', () => { console.log('CONNECTED'); s.destroy(); clearTimeout(t); });
s.once('error', (e) => { console.log(e.code || e.message); clearTimeout(t); });
`;

/** Opens a TCP connection from inside `ns`: 'CONNECTED', an error code (ECONNRESET, ...) or 'TIMEOUT'. */
export function tcpConnectFrom(ns: string, host: string, port: number, timeoutMs = 5_000): string {
  return inNamespace(ns, process.execPath, '-e', CONNECT_PROBE, host, String(port), String(timeoutMs)).trim();
}

/** Why the NAT topology cannot be built here (namespaces, or no iptables), or undefined. */
export function natUnavailable(): string | undefined {
  const ns = netnsUnavailable();
  if (ns) return ns;
  try {
    execFileSync('sh', ['-c', 'command -v iptables'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return '`iptables` is not installed';
  }
}

/**
 * A home network behind NAT, all in namespaces of its own (nothing touches the root
 * namespace):
 *
 *     inner (10.N.1.2) --veth-- nat (10.N.1.1 | 10.N.2.1, MASQUERADE) --veth-- outer (10.N.2.2)
 *
 * The NAT forwards connections opened from inside and their replies only (conntrack), and
 * refuses every connection opened from outside with a TCP reset. The outer namespace even
 * has a route to the inner network through the NAT, so a refused connection is the NAT's
 * doing, not a missing route. Removed after the test, failed or not.
 */
export interface Nat {
  inner: string;
  nat: string;
  outer: string;
  /** The inner host's address (private, behind the NAT). */
  innerAddress: string;
  /** The NAT's public side: what the outside sees inner connections come from. */
  natAddress: string;
  /** The outer host's address. */
  outerAddress: string;
  /** Packet counters of the NAT's rules: masqueraded outbound, refused inbound. */
  counters(): { masqueraded: number; refused: number };
}

export function createNat(t: TestContext): Nat {
  const sfx = randomBytes(3).toString('hex');
  const n = 200 + (randomBytes(1)[0]! % 50);
  const [inner, nat, outer] = ['in', 'nat', 'out'].map((r) => `grove-${sfx}-${r}`) as [string, string, string];
  const made: string[] = [];
  const cleanup = () => {
    for (const ns of made) { try { ip('netns', 'del', ns); } catch { /* gone */ } }
  };
  t.after(cleanup);
  const ipt = (...args: string[]) => inNamespace(nat, 'iptables', '-w', ...args);
  try {
    for (const ns of [inner, nat, outer]) {
      ip('netns', 'add', ns);
      made.push(ns);
      ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    // Both ends of each veth are created straight inside their namespaces.
    ip('link', 'add', 'eth0', 'netns', inner, 'type', 'veth', 'peer', 'name', 'in0', 'netns', nat);
    ip('link', 'add', 'out0', 'netns', nat, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', outer);
    for (const [ns, dev, addr] of [[inner, 'eth0', `10.${n}.1.2/24`], [nat, 'in0', `10.${n}.1.1/24`], [nat, 'out0', `10.${n}.2.1/24`], [outer, 'eth0', `10.${n}.2.2/24`]] as const) {
      ip('-n', ns, 'addr', 'add', addr, 'dev', dev);
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
    ip('-n', inner, 'route', 'add', 'default', 'via', `10.${n}.1.1`);
    ip('-n', outer, 'route', 'add', `10.${n}.1.0/24`, 'via', `10.${n}.2.1`);
    inNamespace(nat, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
    ipt('-t', 'nat', '-A', 'POSTROUTING', '-o', 'out0', '-j', 'MASQUERADE');
    ipt('-A', 'FORWARD', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
    ipt('-A', 'FORWARD', '-i', 'in0', '-o', 'out0', '-j', 'ACCEPT');
    ipt('-A', 'FORWARD', '-p', 'tcp', '-j', 'REJECT', '--reject-with', 'tcp-reset');
    ipt('-A', 'FORWARD', '-j', 'DROP');
  } catch (e) {
    cleanup();
    throw e;
  }
  const counter = (table: string, chain: string, target: string) => {
    const out = ipt('-t', table, '-L', chain, '-v', '-n', '-x');
    return out.split('\n').filter((l) => l.trim().split(/\s+/)[2] === target).reduce((sum, l) => sum + Number(l.trim().split(/\s+/)[0]), 0);
  };
  return {
    inner, nat, outer,
    innerAddress: `10.${n}.1.2`, natAddress: `10.${n}.2.1`, outerAddress: `10.${n}.2.2`,
    counters: () => ({ masqueraded: counter('nat', 'POSTROUTING', 'MASQUERADE'), refused: counter('filter', 'FORWARD', 'REJECT') }),
  };
}
