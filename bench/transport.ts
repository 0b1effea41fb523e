// Transport figures for `npm run bench:sync`: the same object files uploaded over plain HTTP,
// over identity-bound TLS 1.3 direct, and over the same TLS through a `grove relay` process
// on loopback; and the relay's peak RSS with 1 and with 50 concurrent streams.
//
// Both ends move bytes the way cells do, so the figures compare transports and nothing else:
// the sender reads a whole object and sends it in one write (sync/transfer.ts pushObject),
// the receiver collects the body and writes it with one call (ObjectStore.putStream). A
// stream-to-stream copy would instead add one file write per TLS record (16 KiB) against one
// per 64 KiB read on plain TCP, and measure that.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, request, type RequestListener, type Agent } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { readFile, open } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { generateEd25519, cellIdFromPublic } from '../src/crypto/keys.js';
import { makeTlsIdentity } from '../src/tls/certificate.js';
import { CellAgent } from '../src/tls/agent.js';
import { connectToCell } from '../src/tls/connect.js';
import { TLS_MIN_VERSION, TLS_CIPHERSUITES } from '../src/tls/verify.js';
import { dialRelay } from '../src/relay/dial.js';
import { RelayLink } from '../src/relay/link.js';

export interface Figure { bytes: number; seconds: number }

function sink(dest: string): RequestListener {
  let n = 0;
  return (req, res) => {
    const pieces: Buffer[] = [];
    req.on('data', (d: Buffer) => pieces.push(d));
    req.on('end', () => {
      void (async () => {
        const fh = await open(join(dest, `f${n++}`), 'w');
        await fh.writev(pieces);
        await fh.close();
        res.end('ok');
      })();
    });
  };
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
  const child = spawn(process.execPath, [grove, '--json', 'relay', '--host', '127.0.0.1', '--port', '0', '--per-ip', '1000'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, GROVE_RELAY_LOG: 'warn' } });
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

/** Plain HTTP, TLS direct and TLS through a relay: the same files, page cache only. */
export async function transportFigures(files: string[], dest: (name: string) => string, grove: string): Promise<{ plain: Figure; tls: Figure; relayed: Figure; relayRss1: number; relayRss50: number }> {
  const callee = generateEd25519();
  const calleeId = cellIdFromPublic(callee.publicRaw);
  const caller = generateEd25519();
  const callerId = cellIdFromPublic(caller.publicRaw);
  const id = await makeTlsIdentity(callee.privateKey, callee.publicKey);

  const plainServer = createHttpServer(sink(dest('plain')));
  await new Promise<void>((r) => plainServer.listen(0, '127.0.0.1', () => r()));
  const { Agent: HttpAgent } = await import('node:http');
  const plainAgent = new HttpAgent({ keepAlive: true, maxSockets: 8 });
  const plain = await upload(files, plainAgent, (plainServer.address() as { port: number }).port);
  plainAgent.destroy();
  plainServer.close();

  const tlsServer = createHttpsServer({ ...id, minVersion: TLS_MIN_VERSION, ciphers: TLS_CIPHERSUITES }, sink(dest('tls')));
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', () => r()));
  const tlsPort = (tlsServer.address() as { port: number }).port;
  const direct = new CellAgent(() => connectToCell({ host: '127.0.0.1', port: tlsPort }, calleeId), { keepAlive: true, maxSockets: 8 });
  const tls = await upload(files, direct, tlsPort);
  direct.destroy();

  // Through a relay: the TLS server gets the relay's streams as connections.
  const relay = await startRelayProcess(grove);
  const stop = new AbortController();
  const link = new RelayLink({ url: relay.url, me: { selfId: calleeId, identity: callee.privateKey }, log: pino({ level: 'silent' }), signal: stop.signal, onStream: (s) => tlsServer.emit('connection', s) });
  link.start();
  while (!link.connected) await new Promise((r) => setTimeout(r, 20));
  const route = new URL(`relay+ws://${relay.url.slice(5)}/${calleeId}`);
  const me = { selfId: callerId, identity: caller.privateKey };
  const relayedAgent = (max: number) => new CellAgent(async () => {
    const signal = AbortSignal.timeout(15_000);
    return connectToCell({ stream: await dialRelay(route, calleeId, signal, me) }, calleeId, signal);
  }, { keepAlive: true, maxSockets: max });
  const one = relayedAgent(1);
  await upload(files.slice(0, Math.min(files.length, 8)), one, 0, 1);
  one.destroy();
  const relayRss1 = peakRssMB(relay.child.pid!);
  const via = relayedAgent(8);
  const relayed = await upload(files, via, 0);
  via.destroy();
  const many = relayedAgent(50);
  await upload(Array.from({ length: 50 }, (_, i) => files[i % files.length]!), many, 0, 50);
  many.destroy();
  const relayRss50 = peakRssMB(relay.child.pid!);
  stop.abort();
  await link.stop();
  relay.child.kill('SIGTERM');
  tlsServer.close();
  return { plain, tls, relayed, relayRss1, relayRss50 };
}
