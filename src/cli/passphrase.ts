import { GroveError } from '../errors.js';

// Passphrase for key export/import: $GROVE_PASSPHRASE (scripts, tests), else a prompt on the
// terminal without echo. The prompt writes to stderr so stdout stays clean for --json.

export const MIN_PASSPHRASE = 8;

export async function readPassphrase(opts: { confirm: boolean; env?: NodeJS.ProcessEnv }): Promise<string> {
  const env = opts.env ?? process.env;
  if (env.GROVE_PASSPHRASE !== undefined && env.GROVE_PASSPHRASE !== '') return check(env.GROVE_PASSPHRASE, opts.confirm);
  if (!process.stdin.isTTY) {
    throw new GroveError('USAGE', 'no passphrase: set GROVE_PASSPHRASE or run in a terminal');
  }
  const ctx = { output: process.stderr };
  // Loaded only when a prompt is needed (scripts and tests use $GROVE_PASSPHRASE).
  const { default: password } = await import('@inquirer/password');
  try {
    const first = await password({ message: 'Passphrase:' }, ctx);
    if (opts.confirm) {
      const again = await password({ message: 'Repeat passphrase:' }, ctx);
      if (again !== first) throw new GroveError('USAGE', 'the passphrases do not match');
    }
    return check(first, opts.confirm);
  } catch (e) {
    if (e instanceof GroveError) throw e;
    throw new GroveError('USAGE', 'cancelled');
  }
}

/** New passphrases (export) must have some length; an import takes whatever was used. */
function check(p: string, isNew: boolean): string {
  if (isNew && p.length < MIN_PASSPHRASE) {
    throw new GroveError('USAGE', `the passphrase must have at least ${MIN_PASSPHRASE} characters`);
  }
  return p;
}
