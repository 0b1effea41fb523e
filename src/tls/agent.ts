import { Agent, type AgentOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';

// A keep-alive HTTP agent whose connections are identity-checked TLS sockets (connect.ts).
// One agent per (peer, route): a pooled connection is only ever reused for the cell it was
// checked against. The HTTP layer above is the ordinary node:http client.

type OnCreate = (err: Error | null, stream: Duplex) => void;

export class CellAgent extends Agent {
  constructor(private readonly open: () => Promise<TLSSocket>, opts: AgentOptions) {
    super(opts);
  }

  // node:http supports an asynchronous createConnection: return nothing, call back later.
  override createConnection(_options: unknown, cb?: OnCreate): undefined {
    this.open().then((s) => cb?.(null, s), (e: Error) => cb?.(e, undefined as never));
    return undefined;
  }
}
