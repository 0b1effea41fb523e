import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { Server, Socket } from 'node:net';

// Caps on the peer API's connections (docs/protocol.md "Bounds and defences"): in total and
// per address, below the open-file limit with a reserve kept for the database, logs, the
// control socket and this cell's own outgoing calls. A stranger holding connections open can
// use up its own share, never every descriptor.

export interface ConnectionCaps {
  total: number;
  perAddress: number;
}

/** The soft RLIMIT_NOFILE of this process (Linux /proc, else `ulimit -n`), if it can be read. */
export function openFileLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (m) return m[1] === 'unlimited' ? undefined : Number(m[1]);
  } catch {
    /* not Linux */
  }
  const r = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/**
 * The caps for a descriptor limit: a quarter of it (at least 64) stays in reserve; the
 * configured caps apply below that. Never below 8 in total or 1 per address.
 */
export function connectionCaps(cfg: { max_connections: number; max_connections_per_address: number }, fdLimit: number | undefined): ConnectionCaps {
  const byFds = fdLimit === undefined ? Infinity : fdLimit - Math.max(64, Math.floor(fdLimit / 4));
  const total = Math.max(8, Math.min(cfg.max_connections, byFds));
  return { total, perAddress: Math.max(1, Math.min(cfg.max_connections_per_address, total)) };
}

/**
 * Enforces the caps on a listening server: over the total, Node closes the new connection at
 * once (server.maxConnections); over the per-address cap, it is destroyed on arrival.
 * Returns a view of the current counts (tests, status).
 */
export function capConnections(server: Server, caps: ConnectionCaps): { open: () => number; byAddress: (a: string) => number } {
  server.maxConnections = caps.total;
  const perAddress = new Map<string, number>();
  let open = 0;
  server.on('connection', (socket: Socket) => {
    const addr = socket.remoteAddress ?? '?';
    const n = (perAddress.get(addr) ?? 0) + 1;
    if (n > caps.perAddress) {
      socket.destroy();
      return;
    }
    perAddress.set(addr, n);
    open++;
    socket.once('close', () => {
      open--;
      const left = (perAddress.get(addr) ?? 1) - 1;
      if (left <= 0) perAddress.delete(addr);
      else perAddress.set(addr, left);
    });
  });
  return { open: () => open, byAddress: (a) => perAddress.get(a) ?? 0 };
}
