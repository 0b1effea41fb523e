import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// Dashboard sessions (docs/dashboard.md "Sessions"). A session is a random 256-bit token in
// an HttpOnly, SameSite=Strict cookie; the server keeps only its SHA-256, a CSRF token, its
// expiry, and the fingerprint of the password file it was opened under. `grove passwd`
// rewrites that file, so every session opened before no longer matches and is refused:
// changing the password logs everyone out, even with the cell running.

export interface SessionPolicy {
  /** Absolute lifetime of a session. */
  ttlMs: number;
  /** A session unused this long expires. */
  idleMs: number;
  /** Sessions kept at once (the oldest goes first). */
  max: number;
}

export const DEFAULT_SESSIONS: SessionPolicy = { ttlMs: 12 * 3600_000, idleMs: 2 * 3600_000, max: 64 };

export interface Session {
  csrf: string;
  createdAt: number;
  lastUsed: number;
  authFingerprint: string;
}

export function fingerprint(passwordFile: string): string {
  return createHash('sha256').update(passwordFile).digest('hex');
}

const tokenKey = (token: string) => createHash('sha256').update(token).digest('hex');

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly policy: SessionPolicy = DEFAULT_SESSIONS) {}

  /** Opens a session; returns the cookie token and the CSRF token. */
  open(now: number, authFingerprint: string): { token: string; session: Session } {
    const token = randomBytes(32).toString('base64url');
    const session: Session = { csrf: randomBytes(32).toString('base64url'), createdAt: now, lastUsed: now, authFingerprint };
    this.sessions.set(tokenKey(token), session);
    while (this.sessions.size > this.policy.max) this.sessions.delete(this.sessions.keys().next().value!);
    return { token, session };
  }

  /** The live session for a cookie token, touched; undefined (and forgotten) if expired or stale. */
  get(token: string | undefined, now: number, authFingerprint: string): Session | undefined {
    if (!token || token.length > 100) return undefined;
    const key = tokenKey(token);
    const s = this.sessions.get(key);
    if (!s) return undefined;
    if (now - s.createdAt >= this.policy.ttlMs || now - s.lastUsed >= this.policy.idleMs || s.authFingerprint !== authFingerprint) {
      this.sessions.delete(key);
      return undefined;
    }
    s.lastUsed = now;
    return s;
  }

  close(token: string | undefined): void {
    if (token) this.sessions.delete(tokenKey(token));
  }

  get ttlMs(): number {
    return this.policy.ttlMs;
  }

  get size(): number {
    return this.sessions.size;
  }
}

/** Constant-time comparison of the CSRF header with the session's token. */
export function csrfMatches(session: Session, header: string | undefined): boolean {
  if (!header) return false;
  const a = Buffer.from(session.csrf);
  const b = Buffer.from(header);
  return a.length === b.length && timingSafeEqual(a, b);
}
