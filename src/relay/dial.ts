import { WebSocket } from 'ws';
import type { Duplex } from 'node:stream';
import type { KeyObject } from 'node:crypto';
import { PATHS, parseRelayMessage, signHello, relayBase, MAX_CONTROL_MESSAGE, MAX_DATA_FRAME, type RelayMessage } from './protocol.js';
import { webSocketDuplex } from './stream.js';
import { GroveError } from '../errors.js';

// The cell side of the relay protocol's short exchanges: open a WebSocket to one of a relay's
// paths, answer its challenge with `hello`, wait for `ok` and hand back the byte stream.

export interface RelayIdentity {
  selfId: string;
  identity: KeyObject;
  /** Private relays: the shared token (config relay.token). */
  token?: string;
}

/**
 * Opens the WebSocket and completes the hello. `hello` builds the hello from the challenge
 * nonce. Resolves with the open socket once the relay said ok; `onMessage` sees later control
 * messages (listen connections).
 */
export function relayHandshake<T>(url: string, hello: (nonce: string) => object, signal: AbortSignal, wrap: (ws: WebSocket) => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const ws = new WebSocket(url, { maxPayload: MAX_DATA_FRAME, perMessageDeflate: false, handshakeTimeout: 10_000 });
    let settled = false;
    const finish = (e?: Error) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      ws.off('message', onMessage);
      if (e) {
        ws.terminate();
        reject(e);
      } else {
        ws.removeAllListeners('error');
        ws.removeAllListeners('close');
        // Wrapped synchronously: a data frame right behind `ok` must find its listener.
        resolve(wrap(ws));
      }
    };
    const onAbort = () => finish(new GroveError('UNREACHABLE', `relay ${url}: timed out`));
    const onMessage = (data: Buffer, isBinary: boolean) => {
      const m: RelayMessage | undefined = !isBinary && data.length <= MAX_CONTROL_MESSAGE ? parseRelayMessage(data.toString('utf8')) : undefined;
      if (!m) return finish(new GroveError('RELAY_REFUSED', `relay ${url}: malformed message`));
      if (m.t === 'challenge') ws.send(JSON.stringify(hello(m.nonce)));
      else if (m.t === 'ok') finish();
      else if (m.t === 'error') finish(new GroveError(m.code === 'NOT_CONNECTED' ? 'UNREACHABLE' : 'RELAY_REFUSED', `relay refused: ${m.code} ${m.message}`.trim(), { relay_code: m.code }));
      else finish(new GroveError('RELAY_REFUSED', `relay ${url}: unexpected ${m.t}`));
    };
    ws.on('message', onMessage);
    ws.on('error', (e) => finish(new GroveError('UNREACHABLE', `relay ${url}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
    ws.once('close', (code, reason) => finish(new GroveError('UNREACHABLE', `relay ${url} closed (${code}${reason.length ? ` ${reason.toString().slice(0, 100)}` : ''})`)));
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
  });
}

/** A caller's stream to `peerId` through the relay of `route` (`relay+ws://relay/<peerId>`). */
export async function dialRelay(route: URL, peerId: string, signal: AbortSignal, me: RelayIdentity): Promise<Duplex> {
  const base = relayBase(route);
  return relayHandshake(base + PATHS.dial, (nonce) => ({
    t: 'dial', id: me.selfId, to: peerId, sig: signHello(me.identity, base, nonce, 'dial', peerId), ...(me.token ? { token: me.token } : {}),
  }), signal, webSocketDuplex);
}

/** The callee's side of a stream the relay announced with `incoming`. */
export async function acceptRelayStream(base: string, sid: string, signal: AbortSignal): Promise<Duplex> {
  return relayHandshake(base + PATHS.accept, () => ({ t: 'accept', sid }), signal, webSocketDuplex);
}
