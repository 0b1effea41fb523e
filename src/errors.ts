// One error registry for Grove (STYLE.md): every error that crosses a boundary (CLI, HTTP,
// peer protocol) is a GroveError with a stable string code and an HTTP status. Peer input
// errors never carry internal text; the CLI prints `message` as one line.

export const ERROR_CODES = {
  BAD_INPUT: 400,
  UNAUTHENTICATED: 401, // bad/missing signature, stale timestamp, replayed nonce
  FORBIDDEN: 403, // valid but not allowed (unknown cell, not the owner)
  NOT_FOUND: 404,
  CONFLICT: 409,
  TOO_LARGE: 413,
  RATE_LIMITED: 429, // too many attempts (pairing per address, dashboard login): retry later
  QUOTA_EXCEEDED: 507,
  DISK_FULL: 507, // the cell's disk is at its free-space reserve: uploads refused, reads still served
  CORRUPT: 500, // a local object fails its hash or tag
  UNREACHABLE: 502, // a peer could not be reached
  PEER_ERROR: 502, // a peer answered with an error or an invalid response
  WRONG_IDENTITY: 502, // a route's TLS certificate belongs to another cell than the one called
  RELAY_REFUSED: 502, // a relay refused to carry a connection (see docs/protocol.md, relay errors)
  NOT_RUNNING: 503,
  USAGE: 400, // CLI misuse
  IO: 500,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class GroveError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Extra machine-readable detail (e.g. the corrupt chunk hash). Safe to show to users. */
  readonly detail: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, detail?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GroveError';
    this.code = code;
    this.status = ERROR_CODES[code];
    this.detail = detail;
  }
}

export const badInput = (msg: string, detail?: Record<string, unknown>) => new GroveError('BAD_INPUT', msg, detail);
export const unauthenticated = (msg = 'unauthenticated') => new GroveError('UNAUTHENTICATED', msg);
export const forbidden = (msg = 'forbidden') => new GroveError('FORBIDDEN', msg);
export const notFound = (msg: string, detail?: Record<string, unknown>) => new GroveError('NOT_FOUND', msg, detail);
export const tooLarge = (msg = 'body too large') => new GroveError('TOO_LARGE', msg);
export const corrupt = (msg: string, detail?: Record<string, unknown>) => new GroveError('CORRUPT', msg, detail);
export const usage = (msg: string) => new GroveError('USAGE', msg);

export function isGroveError(e: unknown): e is GroveError {
  return e instanceof GroveError;
}

/** Turns any thrown value into a one-line message for users (never a stack trace). */
export function describeError(e: unknown): string {
  if (e instanceof GroveError) return e.message;
  const err = e as NodeJS.ErrnoException | undefined;
  if (err && typeof err === 'object' && typeof err.code === 'string') {
    const where = err.path ? `: ${err.path}` : '';
    switch (err.code) {
      case 'ENOENT': return `no such file or directory${where}`;
      case 'EACCES': case 'EPERM': return `permission denied${where}`;
      case 'ENOSPC': return `no space left on device${where}`;
      case 'ELOOP': return `too many levels of symbolic links${where}`;
      case 'EISDIR': return `is a directory${where}`;
      case 'ENOTDIR': return `not a directory${where}`;
      case 'ECONNREFUSED': return `connection refused${where}`;
      default: return `${err.code}${where}${err.message ? ` (${err.message.split('\n')[0]})` : ''}`;
    }
  }
  if (e instanceof Error) return e.message.split('\n')[0] ?? 'error';
  return String(e);
}
