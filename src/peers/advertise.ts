import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { normalizeRouteUrl } from './registry.js';

// The route URLs a cell advertises in invites and identity cards: config api.advertise when
// set; else derived from the listener. A wildcard listener (0.0.0.0 / ::) is reachable on
// every IPv4 interface address: LAN addresses first, loopback (127.0.0.1) last. A peer that
// tries a route reaching some other cell notices: the answer is not signed by us.

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

export function derivedRoutes(host: string, port: number, ifaces: Interfaces = networkInterfaces()): string[] {
  if (host === '0.0.0.0' || host === '::' || host === '') {
    const external: string[] = [];
    const internal: string[] = [];
    for (const list of Object.values(ifaces)) {
      for (const a of list ?? []) {
        if (a.family !== 'IPv4') continue;
        (a.internal ? internal : external).push(`https://${a.address}:${port}`);
      }
    }
    return [...new Set([...external.sort(), ...internal.sort()])];
  }
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return [normalizeRouteUrl(`https://${h}:${port}`)];
}

export function advertisedRoutes(advertise: readonly string[], host: string, port: number, ifaces?: Interfaces): string[] {
  if (advertise.length) return [...new Set(advertise.map((u) => normalizeRouteUrl(u)))];
  return derivedRoutes(host, port, ifaces);
}
