import { existsSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { readPasswordHash, verifyPasswordAsync, writePassword } from '../home/password.js';
import { GroveError, badInput } from '../errors.js';
import { fingerprint, type Session } from './sessions.js';
import { SESSION_COOKIE, type DashboardContext } from './server.js';
import { readCookie } from './security.js';

// Login, logout, the session and the password (docs/dashboard.md "Sessions", "Login").

const MAX_PASSWORD = 1024;

function cookie(token: string, maxAgeS: number): string {
  return `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}`;
}

export function registerAuthRoutes(app: FastifyInstance, ctx: DashboardContext): void {
  const { paths } = ctx.home;

  app.post('/api/login', async (req, reply) => {
    const body = req.body as { password?: unknown } | undefined;
    const password = body?.password;
    if (typeof password !== 'string' || !password || password.length > MAX_PASSWORD) throw badInput('expected {"password": "…"}');
    const client = req.ip;
    const wait = ctx.limiter.check(client, ctx.clock());
    if (wait > 0) {
      const s = Math.ceil(wait / 1000);
      reply.header('retry-after', String(s));
      throw new GroveError('RATE_LIMITED', `too many wrong passwords: try again in ${s} s`, { retry_after_s: s });
    }
    if (!existsSync(paths.dashboardAuth)) throw new GroveError('NOT_FOUND', 'no dashboard password is set: run `grove passwd`');
    const stored = readPasswordHash(paths.dashboardAuth);
    if (!(await verifyPasswordAsync(password, stored))) {
      ctx.limiter.fail(client, ctx.clock());
      ctx.log.warn({ client }, 'dashboard login failed');
      throw new GroveError('UNAUTHENTICATED', 'wrong password');
    }
    ctx.limiter.succeed(client);
    const { token, session } = ctx.sessions.open(ctx.clock(), fingerprint(stored));
    reply.header('set-cookie', cookie(token, Math.floor(sessionsMaxAgeS(ctx))));
    return { csrf: session.csrf, ...identity(ctx) };
  });

  app.post('/api/logout', async (req, reply) => {
    ctx.sessions.close(readCookie(req.headers.cookie, SESSION_COOKIE));
    reply.header('set-cookie', cookie('', 0));
    return { ok: true };
  });

  app.get('/api/session', async (req) => sessionAnswer(ctx, req.session!));

  // Changing the password rewrites dashboard_auth, which ends every session (this one too).
  app.post('/api/password', async (req, reply) => {
    const b = req.body as { current?: unknown; next?: unknown } | undefined;
    if (typeof b?.current !== 'string' || typeof b.next !== 'string' || b.next.length > MAX_PASSWORD) throw badInput('expected {"current", "next"}');
    if (!(await verifyPasswordAsync(b.current, readPasswordHash(paths.dashboardAuth)))) {
      ctx.limiter.fail(req.ip, ctx.clock());
      throw new GroveError('FORBIDDEN', 'the current password is wrong');
    }
    writePassword(paths.dashboardAuth, b.next);
    reply.header('set-cookie', cookie('', 0));
    ctx.log.info('dashboard password changed from the dashboard');
    return { ok: true };
  });
}

/** What the page learns of its session: the CSRF token and the cell (`GET /api/session`, and the page itself). */
export function sessionAnswer(ctx: DashboardContext, s: Session): { csrf: string; id: string; name: string } {
  return { csrf: s.csrf, ...identity(ctx) };
}

function identity(ctx: DashboardContext): { id: string; name: string } {
  return { id: ctx.home.keys.cellId, name: ctx.home.config.name };
}

function sessionsMaxAgeS(ctx: DashboardContext): number {
  return ctx.sessions.ttlMs / 1000;
}
