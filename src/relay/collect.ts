import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Collection } from './limits.js';

// V8's garbage collector as a function, for `grove relay` (see GcPacer in limits.ts). Node
// only offers it with --expose-gc; setting that flag at run time and reading `gc` from a new
// context gets it without a command-line flag. Dead buffers are then freed during the
// collection itself rather than by a background thread afterwards, which on a busy machine
// lags far behind (measured: 9 MB still held after each collection instead of 1 MB).
// Undefined if this Node does not allow it (the relay then leaves collection to V8 alone).

type GcFunction = (o?: { type?: Collection }) => void;

export function exposeCollector(): ((kind: Collection) => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    setFlagsFromString('--no-concurrent-array-buffer-sweeping');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc !== 'function') return undefined;
    return (kind) => (gc as GcFunction)({ type: kind });
  } catch {
    return undefined;
  }
}
