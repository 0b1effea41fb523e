import { Command, CommanderError } from 'commander';
import { describeError, GroveError } from '../errors.js';
import { termSafe } from './term.js';
// `grove`: one executable, `--home DIR` everywhere and `--json` on every command that
// reports (docs/design.md §5). Errors are one line on stderr and a non-zero exit, never a stack trace.

type Register = (program: Command) => void;

/**
 * Each top-level command and the module that defines it, loaded only when that command runs
 * (start-up: `grove id` must not load the peer server, TLS, SQLite-heavy code and the
 * dashboard it never uses). Several commands can share a module.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  init: async () => (await import('./commands/init.js')).registerInit,
  id: async () => (await import('./commands/id.js')).registerId,
  config: async () => (await import('./commands/config.js')).registerConfig,
  add: async () => (await import('./commands/add.js')).registerAdd,
  ls: async () => (await import('./commands/ls.js')).registerLs,
  get: async () => (await import('./commands/get.js')).registerGet,
  verify: async () => (await import('./commands/verify.js')).registerVerify,
  key: async () => (await import('./commands/key.js')).registerKey,
  start: async () => (await import('./commands/start.js')).registerStart,
  status: async () => (await import('./commands/status.js')).registerStatus,
  invite: async () => (await import('./commands/pairing.js')).registerPairing,
  pair: async () => (await import('./commands/pairing.js')).registerPairing,
  peers: async () => (await import('./commands/peers.js')).registerPeers,
  prefer: async () => (await import('./commands/peers.js')).registerPeers,
  route: async () => (await import('./commands/peers.js')).registerPeers,
  share: async () => (await import('./commands/share.js')).registerShare,
  unshare: async () => (await import('./commands/share.js')).registerShare,
  feed: async () => (await import('./commands/share.js')).registerShare,
  chat: async () => (await import('./commands/chat.js')).registerChat,
  sync: async () => (await import('./commands/sync.js')).registerSync,
  restore: async () => (await import('./commands/sync.js')).registerSync,
  passwd: async () => (await import('./commands/passwd.js')).registerPasswd,
  relay: async () => (await import('./commands/relay.js')).registerRelay,
  watchdog: async () => (await import('./commands/watchdog.js')).registerWatchdog,
  release: async () => (await import('./commands/release.js')).registerRelease,
  update: async () => (await import('./commands/update.js')).registerUpdate,
  watch: async () => (await import('./commands/watch.js')).registerWatch,
  unwatch: async () => (await import('./commands/watch.js')).registerWatch,
  delete: async () => (await import('./commands/delete.js')).registerDelete,
  undelete: async () => (await import('./commands/delete.js')).registerDelete,
  trash: async () => (await import('./commands/delete.js')).registerDelete,
};

/** The command word of `argv` (after the global options), if any. */
export function commandWord(argv: string[]): string | undefined {
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--home') { i++; continue; }
    if (a.startsWith('--home=') || a === '--json') continue;
    return a.startsWith('-') ? undefined : a;
  }
  return undefined;
}

/** The program with the given command's module loaded, or every command (help, unknown words). */
export async function buildProgram(word?: string): Promise<Command> {
  const program = new Command('grove')
    .description('Grove: self-hosted, end-to-end encrypted storage and sharing')
    .option('--home <dir>', 'grove home (default: $GROVE_HOME or ~/.grove)')
    .option('--json', 'machine-readable output')
    .showHelpAfterError()
    .exitOverride();
  const loaders = word !== undefined && Object.hasOwn(COMMANDS, word) ? [COMMANDS[word]!] : Object.values(COMMANDS);
  const done = new Set<Register>();
  for (const load of loaders) {
    const register = await load();
    if (done.has(register)) continue;
    done.add(register);
    register(program);
  }
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    const program = await buildProgram(commandWord(argv));
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; usage errors were already printed by commander
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    process.stderr.write(`grove: ${termSafe(describeError(e))}\n`); // may quote a peer's refusal
    if (process.env.GROVE_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = e instanceof GroveError && e.code === 'USAGE' ? 2 : 1;
  }
}
