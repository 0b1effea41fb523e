import type { IndexSection } from '../recovery/sections.js';
import { isCellId } from '../crypto/encoding.js';
import { corrupt } from '../errors.js';
import { isRouteKind, type PeerRegistry } from './registry.js';
import type { RouteKind } from './route-score.js';

// The `peers` section of the recovery index (docs/formats.md "Recovery index"): every peer
// with its X25519 key, preference and the routes worth keeping (mDNS addresses are only
// meaningful on the LAN where they were seen, so they are left out).

export interface IndexPeer {
  id: string;
  name: string;
  x25519: string;
  preferred: boolean;
  routes: { url: string; kind: string }[];
}

export function peersSection(peers: PeerRegistry, selfId: string): IndexSection {
  return {
    name: 'peers',
    collect: (): IndexPeer[] => peers.list().map((p) => ({
      id: p.id, name: p.name, x25519: p.x25519, preferred: p.preferred,
      routes: p.routes.filter((r) => r.kind !== 'mdns').map((r) => ({ url: r.url, kind: r.kind })),
    })),
    restore: (value) => {
      if (!Array.isArray(value)) throw corrupt('invalid index peers');
      const list = value as IndexPeer[];
      for (const p of list) {
        if (!p || !isCellId(p.id) || !Array.isArray(p.routes)) throw corrupt('invalid index peer');
      }
      let added = 0;
      for (const p of list) {
        if (p.id === selfId) continue;
        const known = peers.get(p.id);
        const routes = p.routes.filter((r) => r && typeof r.url === 'string' && isRouteKind(r.kind)) as { url: string; kind: RouteKind }[];
        try {
          if (peers.upsert({ id: p.id, name: known?.name ?? p.name, x25519: p.x25519 }, routes)) added++;
          if (p.preferred) peers.setPreferred(p.id, true);
        } catch {
          // A malformed entry in our own signed index is not fatal; skip it.
        }
      }
      return { peers_added: added };
    },
  };
}
