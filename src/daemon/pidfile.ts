import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';

// HOME/cell.pid: the pid of the process that holds the control socket, written after the
// socket is bound (so it names the lock holder) and removed on a clean stop. Informational:
// the socket itself is the lock (src/daemon/control.ts).

export interface PidFile {
  write(): void;
  /** Removes the file if it still names this process. */
  remove(): void;
}

export function pidFile(path: string, pid = process.pid): PidFile {
  let written = false;
  return {
    write: () => {
      writeFileSync(path, `${pid}\n`, { mode: 0o644 });
      written = true;
    },
    remove: () => {
      if (!written) return;
      try {
        if (readFileSync(path, 'utf8').trim() === String(pid)) unlinkSync(path);
      } catch {
        /* already gone */
      }
      written = false;
    },
  };
}
