import { Command, CommanderError } from 'commander';
import { describeError, GroveError } from '../errors.js';
import { termSafe } from './term.js';
import { registerInit } from './commands/init.js';
import { registerId } from './commands/id.js';
import { registerConfig } from './commands/config.js';
import { registerAdd } from './commands/add.js';
import { registerLs } from './commands/ls.js';
import { registerGet } from './commands/get.js';
import { registerVerify } from './commands/verify.js';
import { registerKey } from './commands/key.js';
import { registerStart } from './commands/start.js';
import { registerStatus } from './commands/status.js';
import { registerPairing } from './commands/pairing.js';
import { registerPeers } from './commands/peers.js';
import { registerShare } from './commands/share.js';
import { registerChat } from './commands/chat.js';
import { registerSync } from './commands/sync.js';
import { registerPasswd } from './commands/passwd.js';
import { registerRelay } from './commands/relay.js';
import { registerWatchdog } from './commands/watchdog.js';
import { registerRelease } from './commands/release.js';
import { registerUpdate } from './commands/update.js';
import { registerWatch } from './commands/watch.js';
import { registerDelete } from './commands/delete.js';

// `grove`: one executable, `--home DIR` everywhere and `--json` on every command that
// reports (docs/design.md §5). Errors are one line on stderr and a non-zero exit, never a stack trace.

export function buildProgram(): Command {
  const program = new Command('grove')
    .description('Grove: self-hosted, end-to-end encrypted storage and sharing')
    .option('--home <dir>', 'grove home (default: $GROVE_HOME or ~/.grove)')
    .option('--json', 'machine-readable output')
    .showHelpAfterError()
    .exitOverride();
  registerInit(program);
  registerId(program);
  registerConfig(program);
  registerAdd(program);
  registerLs(program);
  registerGet(program);
  registerVerify(program);
  registerKey(program);
  registerStart(program);
  registerStatus(program);
  registerPairing(program);
  registerPeers(program);
  registerShare(program);
  registerChat(program);
  registerSync(program);
  registerPasswd(program);
  registerRelay(program);
  registerWatchdog(program);
  registerRelease(program);
  registerUpdate(program);
  registerWatch(program);
  registerDelete(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
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
