import type { PeerClient } from '../net/client.js';

/**
 * Confirms that `url` reaches `peerId`: a signed GET /api/health whose response must verify
 * as signed by that cell (src/net/client.ts) and name it. Until this holds, an address
 * found by mDNS is only a rumour.
 */
export function confirmByHealth(client: PeerClient, timeoutMs: number) {
  return async (peerId: string, url: string, signal: AbortSignal): Promise<boolean> => {
    const r = await client.call<{ ok?: unknown; id?: unknown }>(url, peerId, 'GET', '/api/health', { timeoutMs, signal, maxBytes: 4096 });
    return r.data?.ok === true && r.data.id === peerId;
  };
}
