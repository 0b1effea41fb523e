import type { Config } from '../home/config.js';
import type { EdgeLimits } from '../net/server.js';
import { RateLimiter } from './rate.js';

/** Pairing attempts per address: a burst of 5, then one every 5 s (docs/protocol.md "Bounds and defences"). */
export const PAIRING_BURST = 5;
export const PAIRING_PER_SECOND = 0.2;

/** The peer server's edge options from config.json `limits`: timeouts, caps, the pairing limiter. */
export function peerEdge(limits: Config['limits'], clock: () => number): { edge: EdgeLimits; admitStranger: (address: string) => boolean } {
  const pairing = new RateLimiter({ burst: PAIRING_BURST, perSecond: PAIRING_PER_SECOND, clock });
  return {
    edge: {
      headersTimeoutMs: limits.headers_timeout_s * 1000,
      requestTimeoutMs: limits.request_timeout_s * 1000,
      maxConnections: limits.max_connections,
      maxConnectionsPerAddress: limits.max_connections_per_address,
    },
    admitStranger: (address) => pairing.take(address),
  };
}
