// The receiving cell of bench/transport.ts, in a process of its own as between two cells:
// a plain HTTP or an identity-bound TLS 1.3 server that takes object uploads the way a
// holder does (the body collected, then written with one call), optionally also reached
// through a relay (a RelayLink hands it the relay's streams). Prints one JSON line once
// ready: {"port": P}. Stops on SIGTERM.
//
// `raw-tcp` and `raw-tls` are the ceiling of Node's sockets themselves: a bare TCP or TLS
// server (the same certificate and cipher suites as a cell) that counts what it reads, with
// no HTTP and no file, and answers "ok" when the caller ends its side.
//
//   node dist/bench/transport-peer.js plain|tls|raw-tcp|raw-tls DEST_DIR [RELAY_URL]   (key: $GROVE_BENCH_KEY, PKCS#8 PEM)

import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { keyPairFromPem, cellIdFromPublic } from '../src/crypto/keys.js';
import { makeTlsIdentity } from '../src/tls/certificate.js';
import { TLS_MIN_VERSION, TLS_CIPHERSUITES } from '../src/tls/verify.js';
import { RelayLink } from '../src/relay/link.js';

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

const rawSockets = new Set<Socket>();

/** Reads everything, answers "ok" once the caller ended its side. */
function counter(socket: Socket): void {
  rawSockets.add(socket);
  socket.once('close', () => rawSockets.delete(socket));
  socket.on('data', () => {});
  socket.on('end', () => socket.end('ok'));
  socket.on('error', () => socket.destroy());
}

async function main(): Promise<void> {
  const [mode, dest, relayUrl] = process.argv.slice(2);
  if (mode === 'raw-tcp' || mode === 'raw-tls') {
    let server;
    if (mode === 'raw-tcp') {
      server = createNetServer(counter);
    } else {
      const keys = keyPairFromPem(process.env.GROVE_BENCH_KEY ?? '');
      const id = await makeTlsIdentity(keys.privateKey, keys.publicKey);
      server = createTlsServer({ ...id, minVersion: TLS_MIN_VERSION, ciphers: TLS_CIPHERSUITES }, counter);
    }
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
    process.once('SIGTERM', () => {
      server.close();
      for (const sock of rawSockets) sock.destroy();
    });
    return;
  }
  if ((mode !== 'plain' && mode !== 'tls') || !dest) throw new Error('usage: transport-peer plain|tls|raw-tcp|raw-tls DEST [RELAY_URL]');
  let server: Server;
  let link: RelayLink | undefined;
  const stop = new AbortController();
  if (mode === 'plain') {
    server = createHttpServer(sink(dest));
  } else {
    const keys = keyPairFromPem(process.env.GROVE_BENCH_KEY ?? '');
    const id = await makeTlsIdentity(keys.privateKey, keys.publicKey);
    server = createHttpsServer({ ...id, minVersion: TLS_MIN_VERSION, ciphers: TLS_CIPHERSUITES }, sink(dest));
    if (relayUrl) {
      const selfId = cellIdFromPublic(keys.publicRaw);
      const s = server;
      link = new RelayLink({ url: relayUrl, me: { selfId, identity: keys.privateKey }, log: pino({ level: 'silent' }), signal: stop.signal, onStream: (stream) => s.emit('connection', stream) });
      link.start();
    }
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  while (link && !link.connected) await new Promise((r) => setTimeout(r, 20));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as { port: number }).port })}\n`);
  process.once('SIGTERM', () => {
    stop.abort();
    void link?.stop();
    server.close();
    server.closeAllConnections();
  });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
