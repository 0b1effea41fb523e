import { GroveError } from '../errors.js';

// Ctrl-C (or SIGTERM) during long work: the first one aborts cleanly (temp files removed,
// workers stopped, a one-line error); a second one exits at once.

export interface Interrupt {
  signal: AbortSignal;
  dispose(): void;
}

export function onInterrupt(): Interrupt {
  const ac = new AbortController();
  const handler = () => {
    if (ac.signal.aborted) process.exit(130);
    ac.abort(new GroveError('IO', 'interrupted'));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
