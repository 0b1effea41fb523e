import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { MAX_DATA_FRAME } from './protocol.js';

// A byte stream over one relay WebSocket (after its hello): writes are cut into binary frames
// of at most MAX_DATA_FRAME bytes and complete when the frames reached the socket; reading
// pauses the WebSocket while the consumer (TLS) is behind. Text frames are a protocol error.
//
// Cost per byte matters here (bulk transfers run TLS inside this stream): whole frames are
// sent as views of the written buffers (only pieces smaller than a frame are joined), and
// all frames of one write leave in one system call (the socket is corked around them).

export function webSocketDuplex(ws: WebSocket): Duplex {
  const d = new Duplex({
    read() {
      ws.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      sendFrames(ws, [chunk], cb);
    },
    writev(chunks, cb) {
      sendFrames(ws, chunks.map((c) => c.chunk as Buffer), cb);
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

/** The TCP socket under a WebSocket (ws keeps it as `_socket`), to cork it; undefined if absent. */
export function socketOf(ws: WebSocket): Socket | undefined {
  const s = (ws as unknown as { _socket?: Socket })._socket;
  return s && typeof s.cork === 'function' ? s : undefined;
}

/** Cuts `chunks` into frames of at most `max` bytes: views where a frame lies in one chunk, joined pieces otherwise. */
export function packFrames(chunks: readonly Buffer[], max = MAX_DATA_FRAME): Buffer[] {
  const frames: Buffer[] = [];
  let group: Buffer[] = [];
  let size = 0;
  const flush = () => {
    if (size) frames.push(group.length === 1 ? group[0]! : Buffer.concat(group, size));
    group = [];
    size = 0;
  };
  for (let c of chunks) {
    while (c.length) {
      if (size === 0 && c.length >= max) {
        frames.push(c.subarray(0, max));
        c = c.subarray(max);
        continue;
      }
      const take = Math.min(c.length, max - size);
      group.push(take === c.length ? c : c.subarray(0, take));
      size += take;
      c = c.subarray(take);
      if (size === max) flush();
    }
  }
  flush();
  return frames;
}

function sendFrames(ws: WebSocket, chunks: readonly Buffer[], cb: (e?: Error | null) => void): void {
  if (ws.readyState !== ws.OPEN) {
    cb(new Error('relay stream closed'));
    return;
  }
  const frames = packFrames(chunks);
  if (!frames.length) {
    cb();
    return;
  }
  const socket = socketOf(ws);
  socket?.cork();
  try {
    frames.forEach((f, i) => ws.send(f, { binary: true }, i === frames.length - 1 ? (e) => cb(e ?? null) : undefined));
  } finally {
    socket?.uncork();
  }
}
