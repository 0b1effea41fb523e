import { GroveError } from '../errors.js';

/** The holder answered that it lacks the object (404) or sent bytes that fail their hash. */
export function isLostCopy(e: unknown): boolean {
  return e instanceof GroveError && (e.code === 'CORRUPT' || e.code === 'NOT_FOUND' || e.detail?.status === 404);
}
