// The dashboard's request checks and response headers (docs/dashboard.md "Security"), as
// pure functions over plain data so they are tested without a server.

/** Every response: no framing, no MIME sniffing, no inline script, nothing from elsewhere. */
export const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CSP,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
};

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

export function isLoopbackHost(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The Host header values the dashboard answers to (against DNS rebinding: a page on
 * evil.example resolving to 127.0.0.1 sends `Host: evil.example`). Loopback names with the
 * bound port always; the bound address when it is not a wildcard; plus configured names.
 */
export function allowedHosts(bindHost: string, port: number, extraNames: readonly string[] = []): Set<string> {
  const names = new Set<string>(LOOPBACK_NAMES);
  if (bindHost !== '0.0.0.0' && bindHost !== '::') names.add(bindHost.includes(':') && !bindHost.startsWith('[') ? `[${bindHost}]` : bindHost);
  for (const n of extraNames) names.add(n.toLowerCase());
  const out = new Set<string>();
  for (const n of names) {
    out.add(`${n}:${port}`);
    if (port === 80) out.add(n);
  }
  return out;
}

export function hostAllowed(host: string | undefined, allowed: ReadonlySet<string>): boolean {
  return !!host && allowed.has(host.toLowerCase());
}

/**
 * A state-changing request must come from the dashboard's own page: an Origin header, when
 * the browser sends one (all current browsers do on POST/PUT/DELETE), must be
 * http://{an allowed host}; Sec-Fetch-Site, when sent, must not say cross-site.
 */
export function originAllowed(origin: string | undefined, secFetchSite: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (secFetchSite !== undefined && secFetchSite !== 'same-origin' && secFetchSite !== 'none') return false;
  if (origin === undefined) return true;
  const m = /^http:\/\/([^/]+)$/.exec(origin.toLowerCase());
  return !!m && allowed.has(m[1]!);
}

/** Reads one cookie from a Cookie header (RFC 6265 syntax; the first of a repeated name). */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** Content-Disposition for a download: always an attachment, the name made safe for the header. */
export function attachmentHeader(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_').slice(0, 200) || 'download';
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

/** An uploaded file's name: one path component, printable, at most 255 bytes. */
export function uploadName(raw: string | undefined): string | undefined {
  if (typeof raw !== 'string') return undefined;
  const name = raw.normalize('NFC');
  // eslint-disable-next-line no-control-regex
  if (!name || name === '.' || name === '..' || /[/\\\u0000-\u001f\u007f]/.test(name) || Buffer.byteLength(name) > 255) return undefined;
  return name;
}
