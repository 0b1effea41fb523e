// Transport figures for `npm run bench:sync`: the same object files uploaded over plain HTTP,
// over identity-bound TLS 1.3 direct, and over the same TLS through a `grove relay` process
// on loopback; and the relay's peak RSS with 1 and with 50 concurrent streams.
//
// The two ends are separate processes and move bytes the way cells do, so the figures compare
// transports and nothing else: the sender reads a whole object and sends it in one write
// (sync/transfer.ts pushObject); the receiver (transport-peer.ts) collects the body and
// writes it with one call (ObjectStore.putStream). A stream-to-stream copy would instead add
// one file write per TLS record (16 KiB) against one per 64 KiB read on plain TCP; and one
// process for both ends would charge both ends' crypto to one thread, which no two cells do.

import { spawn, type ChildProcess } from 'node:child_process';
import { request, Agent as HttpAgent, type Agent } from 'node:http';
import { connect as tcpConnect, type Socket } from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { generateEd25519, cellIdFromPublic } from '../src/crypto/keys.js';
import { CellAgent } from '../src/tls/agent.js';
import { connectToCell } from '../src/tls/connect.js';
import { dialRelay } from '../src/relay/dial.js';
import { nodeFlagsOf } from '../src/daemon/node-flags.js';

export interface Figure { bytes: number; seconds: number }

/** The receiving cell: bench/transport-peer.ts in its own process; resolves once it listens. */
async function startPeer(mode: 'plain' | 'tls' | 'raw-tcp' | 'raw-tls', dest: string, keyPem?: string, relayUrl?: string): Promise<{ child: ChildProcess; port: number }> {
  const script = fileURLToPath(new URL('./transport-peer.js', import.meta.url));
  const child = spawn(process.execPath, [script, mode, dest, ...(relayUrl ? [relayUrl] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...(keyPem ? { GROVE_BENCH_KEY: keyPem } : {}) },
  });
  const port = await new Promise<number>((res, rej) => {
    child.stdout!.once('data', (d: Buffer) => res((JSON.parse(d.toString().split('\n')[0]!) as { port: number }).port));
    child.once('exit', (c) => rej(new Error(`transport peer exited ${c}`)));
  });
  return { child, port };
}

async function stopPeer(p: { child: ChildProcess }): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await exited;
}

async function upload(files: string[], agent: Agent, port: number, inflight = 4): Promise<Figure> {
  let bytes = 0;
  let next = 0;
  const t0 = performance.now();
  const worker = async () => {
    while (next < files.length) {
      const data = await readFile(files[next++]!);
      bytes += data.length;
      await new Promise<void>((res, rej) => {
        const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/', agent, headers: { 'content-length': data.length } }, (r) => {
          r.resume();
          r.on('end', () => res());
        });
        req.on('error', rej);
        req.end(data);
      });
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  return { bytes, seconds: (performance.now() - t0) / 1000 };
}

export async function startRelayProcess(grove: string): Promise<{ child: ChildProcess; url: string }> {
  // The relay's per-IP and rate limits (64 MiB/s per cell by default) are policy for a shared
  // relay; raised here so the figures measure what relaying costs, not the policy.
  const child = spawn(process.execPath, [...nodeFlagsOf(grove), grove, '--json', 'relay', '--host', '127.0.0.1', '--port', '0', '--per-ip', '1000', '--cell-rate', '65536', '--total-rate', '65536'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, GROVE_RELAY_LOG: 'warn' } });
  const url = await new Promise<string>((res, rej) => {
    child.stdout!.once('data', (d: Buffer) => res((JSON.parse(d.toString().split('\n')[0]!) as { url: string }).url));
    child.once('exit', (c) => rej(new Error(`grove relay exited ${c}`)));
  });
  return { child, url };
}

function peakRssMB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * Plain HTTP, TLS direct and TLS through a relay: the same files, page cache only, the
 * receiving cell in a process of its own (as between two cells; one for plain HTTP, one
 * reached both directly and through the relay), 4 uploads in flight. The three take turns
 * in rounds of 8 objects, so a neighbour's load that comes and goes weighs on all three alike.
 */
export async function transportFigures(files: string[], dest: (name: string) => string, grove: string): Promise<{ plain: Figure; tls: Figure; relayed: Figure; relayRss1: number; relayRss50: number }> {
  const callee = generateEd25519();
  const calleeId = cellIdFromPublic(callee.publicRaw);
  const calleePem = callee.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const caller = generateEd25519();
  const me = { selfId: cellIdFromPublic(caller.publicRaw), identity: caller.privateKey };

  const relay = await startRelayProcess(grove);
  const plainPeer = await startPeer('plain', dest('plain'));
  const tlsPeer = await startPeer('tls', dest('tls'), calleePem, relay.url);
  const route = new URL(`relay+ws://${relay.url.slice(5)}/${calleeId}`);
  const relayedAgent = (max: number) => new CellAgent(async () => {
    const signal = AbortSignal.timeout(15_000);
    return connectToCell({ stream: await dialRelay(route, calleeId, signal, me) }, calleeId, signal);
  }, { keepAlive: true, maxSockets: max });

  // The relay with one stream, before anything else went through it.
  const one = relayedAgent(1);
  await upload(files.slice(0, Math.min(files.length, 8)), one, 0, 1);
  one.destroy();
  const relayRss1 = peakRssMB(relay.child.pid!);

  const ways = [
    { agent: new HttpAgent({ keepAlive: true, maxSockets: 8 }) as Agent, port: plainPeer.port, fig: { bytes: 0, seconds: 0 } },
    { agent: new CellAgent(() => connectToCell({ host: '127.0.0.1', port: tlsPeer.port }, calleeId), { keepAlive: true, maxSockets: 8 }) as Agent, port: tlsPeer.port, fig: { bytes: 0, seconds: 0 } },
    { agent: relayedAgent(8) as Agent, port: 0, fig: { bytes: 0, seconds: 0 } },
  ];
  // Connections open before the clock runs (cells keep theirs alive between rounds too).
  for (const w of ways) await upload(files.slice(0, 4), w.agent, w.port);
  const per = 8;
  for (let r = 0; r * per < files.length; r++) {
    const slice = files.slice(r * per, (r + 1) * per);
    for (let k = 0; k < ways.length; k++) {
      const w = ways[(r + k) % ways.length]!;
      const f = await upload(slice, w.agent, w.port);
      w.fig.bytes += f.bytes;
      w.fig.seconds += f.seconds;
    }
  }
  for (const w of ways) w.agent.destroy();

  const many = relayedAgent(50);
  await upload(Array.from({ length: 50 }, (_, i) => files[i % files.length]!), many, 0, 50);
  many.destroy();
  const relayRss50 = peakRssMB(relay.child.pid!);
  await Promise.all([stopPeer(plainPeer), stopPeer(tlsPeer)]);
  relay.child.kill('SIGTERM');
  return { plain: ways[0]!.fig, tls: ways[1]!.fig, relayed: ways[2]!.fig, relayRss1, relayRss50 };
}

/**
 * The ceiling of Node's own sockets on this machine: `bytes` written in 4 MiB pieces over one
 * bare TCP connection and over one bare TLS 1.3 connection (the cells' certificate and cipher
 * suites) to a process that only counts them. No HTTP, no file, no hashing: what is left of
 * the TLS figure against TCP is the cost of Node's TLS itself (its reads come 16 KiB at a
 * time, one record each, against 64 KiB on TCP). The two take turns, 3 times each.
 */
export async function socketCeiling(bytes: number): Promise<{ tcp: Figure; tls: Figure }> {
  const callee = generateEd25519();
  const calleeId = cellIdFromPublic(callee.publicRaw);
  const pem = callee.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const tcpPeer = await startPeer('raw-tcp', '-');
  const tlsPeer = await startPeer('raw-tls', '-', pem);
  const piece = Buffer.alloc(4 * 1024 * 1024, 0x5a);
  const send = async (socket: Socket): Promise<Figure> => {
    const t0 = performance.now();
    const done = new Promise<void>((res, rej) => {
      socket.on('data', () => {});
      socket.once('end', () => res());
      socket.once('error', rej);
    });
    let sent = 0;
    try {
      while (sent < bytes) {
        const n = Math.min(piece.length, bytes - sent);
        sent += n;
        if (!socket.write(n === piece.length ? piece : piece.subarray(0, n))) await Promise.race([once(socket, 'drain'), done]);
      }
      socket.end();
      await done;
    } finally {
      socket.destroy();
    }
    return { bytes: sent, seconds: (performance.now() - t0) / 1000 };
  };
  const out = { tcp: { bytes: 0, seconds: 0 }, tls: { bytes: 0, seconds: 0 } };
  try {
    for (let r = 0; r < 3; r++) {
      const tcp = tcpConnect(tcpPeer.port, '127.0.0.1');
      tcp.setNoDelay(true);
      await new Promise((res, rej) => tcp.once('connect', res).once('error', rej));
      const a = await send(tcp);
      const b = await send(await connectToCell({ host: '127.0.0.1', port: tlsPeer.port }, calleeId));
      out.tcp.bytes += a.bytes; out.tcp.seconds += a.seconds;
      out.tls.bytes += b.bytes; out.tls.seconds += b.seconds;
    }
  } finally {
    await Promise.all([stopPeer(tcpPeer), stopPeer(tlsPeer)]);
  }
  return out;
}
