import { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { MAX_DATA_FRAME } from './protocol.js';

// A byte stream over one relay WebSocket (after its hello): writes are cut into binary frames
// of at most MAX_DATA_FRAME bytes and complete when the frames reached the socket; reading
// pauses the WebSocket while the consumer (TLS) is behind. Text frames are a protocol error.

export function webSocketDuplex(ws: WebSocket): Duplex {
  const d = new Duplex({
    read() {
      ws.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      sendFrames(ws, chunk, cb);
    },
    writev(chunks, cb) {
      sendFrames(ws, Buffer.concat(chunks.map((c) => c.chunk as Buffer)), cb);
    },
    final(cb) {
      ws.close(1000);
      cb();
    },
    destroy(err, cb) {
      if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) {
        if (err) ws.terminate();
        else ws.close(1000);
      }
      cb(err);
    },
  });
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      d.destroy(new Error('relay stream: unexpected text frame'));
      return;
    }
    if (!d.push(data)) ws.pause();
  });
  ws.on('close', () => d.push(null));
  ws.on('error', (e) => d.destroy(e));
  return d;
}

function sendFrames(ws: WebSocket, buf: Buffer, cb: (e?: Error | null) => void): void {
  if (ws.readyState !== ws.OPEN) {
    cb(new Error('relay stream closed'));
    return;
  }
  for (let off = 0; off < buf.length; off += MAX_DATA_FRAME) {
    const last = off + MAX_DATA_FRAME >= buf.length;
    ws.send(buf.subarray(off, off + MAX_DATA_FRAME), { binary: true }, last ? (e) => cb(e ?? null) : undefined);
  }
  if (buf.length === 0) cb();
}
