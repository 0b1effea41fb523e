import type { Command } from 'commander';
import { isAbsolute, resolve } from 'node:path';
import { daemonOr } from '../cell.js';
import { emit, fail, formatBytes, withHome } from '../context.js';
import { termSafe } from '../term.js';
import { onInterrupt } from '../interrupt.js';
import { feedItems, type FeedItem } from '../../share/received.js';
import type { ShareOutcome, UnshareOutcome } from '../../share/service.js';

// `grove share FILE PEER…`, `grove unshare FILE PEER`, `grove feed` (docs/design.md §5; seed
// "Sharing Flow"). share/unshare act as the cell (through the daemon when it runs); the Feed
// is read from this home directly.

/** A path given relative to the shell's directory, made absolute (the daemon has another one). */
function fileArg(file: string): string {
  return !isAbsolute(file) && file.includes('/') ? resolve(file) : file;
}

async function interruptible<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const interrupt = onInterrupt();
  try {
    return await fn(interrupt.signal);
  } finally {
    interrupt.dispose();
  }
}

function shareLine(g: ShareOutcome): string {
  const who = `${termSafe(g.recipient_name)} (${g.recipient.slice(0, 12)})`;
  if (g.delivered) return `shared with ${who}: delivered`;
  if (g.error) return `shared with ${who}: not delivered yet (${termSafe(g.error)}); retried at the next contact`;
  return `shared with ${who}: ${termSafe(g.recipient_name)} is offline; delivered at the next contact`;
}

export function registerShare(program: Command): void {
  program
    .command('share <file> <peers...>')
    .description('share a file with paired cells (a signed grant each; newer versions follow until `grove unshare`)')
    .action(async (file: string, peers: string[], _opts: unknown, cmd: Command) => {
      const query = fileArg(file);
      const r = await daemonOr(cmd, 'share', { file: query, peers }, (cell) => interruptible((signal) => cell.sharing.share(query, peers, signal)));
      emit(cmd, { grants: r.grants }, r.grants.map(shareLine).join('\n'));
      if (r.grants.some((g) => g.error)) fail(1);
    });

  program
    .command('unshare <file> <peer>')
    .description('stop sharing a file with a peer and ask its cell to drop the grant (delivered bytes cannot be recalled)')
    .action(async (file: string, peer: string, _opts: unknown, cmd: Command) => {
      const query = fileArg(file);
      const r = await daemonOr(cmd, 'unshare', { file: query, peer }, (cell) => interruptible((signal) => cell.sharing.unshare(query, peer, signal)));
      emit(cmd, r, () => unshareText(r.revoked));
    });

  program
    .command('feed')
    .description('list files other cells shared with this one (get them with `grove get NAME`)')
    .action(async (_opts: unknown, cmd: Command) => {
      await withHome(cmd, (home) => {
        const items = feedItems(home);
        emit(cmd, { items }, () => feedTable(items));
      });
    });
}

function unshareText(revoked: UnshareOutcome[]): string {
  const note = 'copies it already received cannot be recalled';
  if (!revoked.length) return `no longer shared (${note})`;
  if (revoked.every((r) => r.notified)) return `no longer shared; the recipient dropped the grant (${note})`;
  return `no longer shared; the recipient is told at the next contact (${note})`;
}

function feedTable(items: FeedItem[]): string {
  if (!items.length) return 'nothing shared with this cell yet';
  const rows = items.map((i) => [
    termSafe(i.filename), formatBytes(i.total_size), termSafe(i.from_name ?? i.from.slice(0, 12)),
    new Date(i.granted_at).toISOString().replace(/\.\d+Z$/, 'Z'), i.available ? 'here' : 'remote', i.manifest_hash.slice(0, 16),
  ]);
  const head = ['NAME', 'SIZE', 'FROM', 'SHARED', 'BYTES', 'MANIFEST'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]!))).join('  ');
  return [line(head), ...rows.map(line)].join('\n');
}
