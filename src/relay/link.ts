import { setTimeout as sleep } from 'node:timers/promises';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import { PATHS, parseRelayMessage, signHello, relayBase, MAX_CONTROL_MESSAGE } from './protocol.js';
import { relayHandshake, acceptRelayStream, type RelayIdentity } from './dial.js';

// A cell's standing connection to one relay (config relay.urls): connect out, prove the cell
// ID, answer `incoming` by opening the accept side of the stream and handing it to the peer
// server (which runs TLS on it), keep it alive with pings, reconnect with backoff and jitter.

export interface RelayLinkTiming {
  /** First reconnect delay; doubles per failed attempt up to maxMs. */
  baseMs: number;
  maxMs: number;
  /** Ping interval; no pong by the next ping means the link is dead. */
  pingMs: number;
}

export const DEFAULT_LINK_TIMING: RelayLinkTiming = { baseMs: 1_000, maxMs: 60_000, pingMs: 25_000 };

export interface RelayLinkDeps {
  url: string;
  me: RelayIdentity;
  /** An accepted stream from `from` (the relay's word: TLS and request signatures decide). */
  onStream: (stream: Duplex, from: string) => void;
  log: Logger;
  signal: AbortSignal;
  timing?: Partial<RelayLinkTiming>;
  random?: () => number;
}

/** Reconnect delay for attempt n (0-based): exponential, capped, with ±50 % jitter. */
export function backoffDelay(attempt: number, t: Pick<RelayLinkTiming, 'baseMs' | 'maxMs'>, random: () => number): number {
  const exp = Math.min(t.maxMs, t.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp * (0.5 + random()));
}

export class RelayLink {
  private ws: WebSocket | undefined;
  private running: Promise<void> | undefined;
  private readonly timing: RelayLinkTiming;
  /** Connected and authenticated now. */
  connected = false;

  constructor(private readonly deps: RelayLinkDeps) {
    this.timing = { ...DEFAULT_LINK_TIMING, ...deps.timing };
  }

  start(): void {
    this.running ??= this.run();
  }

  async stop(): Promise<void> {
    this.ws?.terminate();
    await this.running;
  }

  private async run(): Promise<void> {
    const { signal, log } = this.deps;
    const random = this.deps.random ?? Math.random;
    for (let attempt = 0; !signal.aborted;) {
      try {
        await this.session();
        attempt = 0;
      } catch (e) {
        if (signal.aborted) return;
        log.info({ relay: this.deps.url, err: (e as Error).message }, 'relay link failed');
      }
      try {
        await sleep(backoffDelay(attempt++, this.timing, random), undefined, { signal });
      } catch {
        return;
      }
    }
  }

  /** One connection: resolves when it closes. */
  private async session(): Promise<void> {
    const { me, signal, log } = this.deps;
    const base = relayBase(new URL(this.deps.url));
    const ws = await relayHandshake(base + PATHS.listen, (nonce) => ({
      t: 'listen', id: me.selfId, sig: signHello(me.identity, base, nonce, 'listen'), ...(me.token ? { token: me.token } : {}),
    }), AbortSignal.any([signal, AbortSignal.timeout(15_000)]), (w) => w);
    this.ws = ws;
    this.connected = true;
    log.info({ relay: base }, 'relay link up');
    try {
      await new Promise<void>((resolve) => {
        let alive = true;
        ws.on('pong', () => { alive = true; });
        const ping = setInterval(() => {
          if (!alive) ws.terminate();
          alive = false;
          ws.ping();
        }, this.timing.pingMs);
        const onAbort = () => ws.terminate();
        signal.addEventListener('abort', onAbort, { once: true });
        ws.on('error', () => ws.terminate());
        ws.once('close', () => {
          clearInterval(ping);
          signal.removeEventListener('abort', onAbort);
          resolve();
        });
        ws.on('message', (data: Buffer, isBinary: boolean) => {
          const m = !isBinary && data.length <= MAX_CONTROL_MESSAGE ? parseRelayMessage(data.toString('utf8')) : undefined;
          if (m?.t !== 'incoming') {
            ws.terminate();
            return;
          }
          acceptRelayStream(base, m.sid, AbortSignal.any([signal, AbortSignal.timeout(10_000)])).then(
            (stream) => this.deps.onStream(stream, m.from),
            (e: Error) => log.info({ relay: base, err: e.message }, 'relay stream not accepted'),
          );
        });
      });
    } finally {
      this.connected = false;
      this.ws = undefined;
      if (!signal.aborted) log.info({ relay: base }, 'relay link down');
    }
  }
}
