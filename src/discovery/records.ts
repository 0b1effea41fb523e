import { isIPv4 } from 'node:net';
import { isCellId } from '../crypto/encoding.js';

// The mDNS records of a cell (docs/discovery.md), pure: building our announcement and
// reading a sighting out of any response packet. Every field from the network is checked
// and bounded; a record that fails any check is ignored.

export const SERVICE = '_grove._tcp.local';
export const TXT_VERSION = '1';
/** At most this many addresses are taken from one sighting. */
export const MAX_ADDRESSES = 8;
const MAX_TXT_BYTES = 1300;
const MAX_NAME = 63;

export interface Announcement {
  id: string;
  port: number;
  /** Shown to others only if configured (mdns.name); empty: none. */
  name: string;
  /** Our non-internal IPv4 addresses. */
  addresses: string[];
}

export interface Sighting {
  id: string;
  port: number;
  name: string;
  addresses: string[];
}

/** A record as multicast-dns reads and writes it (the fields we use). */
export interface Rec {
  name: string;
  type: string;
  ttl?: number;
  data?: unknown;
}

export function instanceName(id: string): string {
  return `${id}.${SERVICE}`;
}

export function txtFields(a: Pick<Announcement, 'id' | 'port' | 'name'>): string[] {
  const out = [`v=${TXT_VERSION}`, `id=${a.id}`, `port=${a.port}`];
  if (a.name) out.push(`name=${a.name.slice(0, MAX_NAME)}`);
  return out;
}

/** The answers (PTR, SRV, TXT) and additionals (A) that announce a cell. */
export function announcementRecords(a: Announcement, ttl = 120): { answers: Rec[]; additionals: Rec[] } {
  const inst = instanceName(a.id);
  const host = `${a.id}.local`;
  return {
    answers: [
      { name: SERVICE, type: 'PTR', ttl, data: inst },
      { name: inst, type: 'SRV', ttl, data: { port: a.port, weight: 0, priority: 0, target: host } },
      { name: inst, type: 'TXT', ttl, data: txtFields(a) },
    ],
    additionals: a.addresses.map((ip) => ({ name: host, type: 'A', ttl, data: ip })),
  };
}

/** Parses TXT data (a Buffer, a string, or a list of them) into key=value fields. */
export function parseTxt(data: unknown): Map<string, string> | undefined {
  const parts = Array.isArray(data) ? data : [data];
  const out = new Map<string, string>();
  let total = 0;
  for (const p of parts) {
    const s = Buffer.isBuffer(p) ? p.toString('utf8') : typeof p === 'string' ? p : undefined;
    if (s === undefined) return undefined;
    total += s.length;
    if (s.length > 255 || total > MAX_TXT_BYTES || out.size >= 16) return undefined;
    const eq = s.indexOf('=');
    if (eq <= 0) continue;
    const k = s.slice(0, eq).toLowerCase();
    if (!out.has(k)) out.set(k, s.slice(eq + 1)); // RFC 6763 §6.4: the first occurrence wins
  }
  return out;
}

/**
 * The Grove cells a response packet announces. Addresses come from A records for the SRV
 * target in the same packet; when there are none, from the responder's own address.
 */
export function sightingsIn(records: Rec[], responder: string): Sighting[] {
  const out: Sighting[] = [];
  for (const r of records) {
    if (r.type !== 'TXT' || typeof r.name !== 'string' || !r.name.toLowerCase().endsWith(`.${SERVICE}`)) continue;
    const txt = parseTxt(r.data);
    if (!txt || txt.get('v') !== TXT_VERSION) continue;
    const id = txt.get('id') ?? '';
    const portText = txt.get('port') ?? '';
    if (!isCellId(id) || r.name.toLowerCase() !== instanceName(id) || !/^\d{1,5}$/.test(portText)) continue;
    const port = Number(portText);
    if (port < 1 || port > 65535) continue;
    const name = (txt.get('name') ?? '').slice(0, MAX_NAME)
      .split('').filter((ch) => ch.charCodeAt(0) >= 0x20 && ch.charCodeAt(0) !== 0x7f).join(''); // no control characters
    const srv = records.find((x) => x.type === 'SRV' && x.name.toLowerCase() === r.name.toLowerCase());
    const target = (srv?.data as { target?: unknown } | undefined)?.target;
    const ips = typeof target === 'string'
      ? records.filter((x) => x.type === 'A' && x.name.toLowerCase() === target.toLowerCase() && typeof x.data === 'string' && isIPv4(x.data)).map((x) => x.data as string)
      : [];
    const addresses = [...new Set(ips.length ? ips : isIPv4(responder) ? [responder] : [])].slice(0, MAX_ADDRESSES);
    if (addresses.length && !out.some((s) => s.id === id)) out.push({ id, port, name, addresses });
  }
  return out;
}

/** Whether a query asks for Grove cells. */
export function asksForGrove(questions: { name?: unknown; type?: unknown }[]): boolean {
  return questions.some((q) => typeof q.name === 'string' && q.name.toLowerCase() === SERVICE && (q.type === 'PTR' || q.type === 'ANY'));
}

export function routeUrl(ip: string, port: number): string {
  return `https://${ip}:${port}`;
}
