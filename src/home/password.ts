import { pbkdf2, pbkdf2Sync, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFileAtomicSync } from './atomic.js';
import { GroveError } from '../errors.js';

// docs/design.md §1: dashboard_auth = `pbkdf2_sha256$iterations$salt_b64$hash_b64`, ≥ 600 000 iterations.
export const MIN_ITERATIONS = 600_000;

export function hashPassword(password: string, iterations = MIN_ITERATIONS, salt = randomBytes(16)): string {
  const hash = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  return `pbkdf2_sha256$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** The parts of a stored hash, or undefined when it is not one Grove wrote. */
function parseStored(stored: string): { iterations: number; salt: Buffer; want: Buffer } | undefined {
  const parts = stored.trim().split('$');
  if (parts.length !== 4 || parts[0] !== 'pbkdf2_sha256') return undefined;
  const iterations = Number(parts[1]);
  if (!Number.isSafeInteger(iterations) || iterations < 1) return undefined;
  return { iterations, salt: Buffer.from(parts[2]!, 'base64'), want: Buffer.from(parts[3]!, 'base64') };
}

export function verifyPassword(password: string, stored: string): boolean {
  const p = parseStored(stored);
  if (!p) return false;
  const got = pbkdf2Sync(password, p.salt, p.iterations, p.want.length, 'sha256');
  return p.want.length === got.length && timingSafeEqual(p.want, got);
}

export function writePassword(path: string, password: string, iterations = MIN_ITERATIONS): void {
  if (password.length < 8) throw new GroveError('BAD_INPUT', 'password must be at least 8 characters');
  writeFileAtomicSync(path, hashPassword(password, iterations) + '\n', 0o600);
}

export function readPasswordHash(path: string): string {
  return readFileSync(path, 'utf8');
}

/** A random password for first start: 20 characters from an unambiguous alphabet. */
export function randomPassword(): string {
  const alphabet = 'abcdefghjkmnpqrstuvwxyz23456789';
  return Array.from({ length: 20 }, () => alphabet[randomInt(alphabet.length)]).join('');
}

/** verifyPassword without blocking the event loop (the dashboard's login: PBKDF2 runs in libuv's pool). */
export async function verifyPasswordAsync(password: string, stored: string): Promise<boolean> {
  const p = parseStored(stored);
  if (!p) return false;
  const got = await new Promise<Buffer>((resolve, reject) => pbkdf2(password, p.salt, p.iterations, p.want.length, 'sha256', (e, k) => (e ? reject(e) : resolve(k))));
  return p.want.length === got.length && timingSafeEqual(p.want, got);
}
