import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { normalizeRouteUrl } from './registry.js';

// The route URLs a cell advertises in invites and identity cards: config api.advertise when
// set; else what the listener actually serves. A listener on one address advertises that
// address only. A wildcard listener (0.0.0.0 / ::) is reachable on every IPv4 interface
// address and advertises the non-loopback ones: 127.0.0.1 in an invite would lead another
// machine to itself. Loopback is advertised only when the machine has nothing else (then only
// cells on this machine can pair). A peer that tries a route reaching some other cell
// notices: the answer is not signed by us.

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
    return [...new Set(external.length ? external.sort() : internal.sort())];
  }
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return [normalizeRouteUrl(`https://${h}:${port}`)];
}

export function advertisedRoutes(advertise: readonly string[], host: string, port: number, ifaces?: Interfaces): string[] {
  if (advertise.length) return [...new Set(advertise.map((u) => normalizeRouteUrl(u)))];
  return derivedRoutes(host, port, ifaces);
}
