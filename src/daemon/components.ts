import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ControlRegistry } from './control.js';
import type { Loop, LoopSpec } from './loop.js';

// What the composition root (src/cell.ts) hands to the features it builds. Each feature is
// `feature(init)(components) → service`, in the style of js-libp2p: `init` holds the user's
// options (all optional), `components` the collaborators it needs, and each feature's own
// type names the narrow subset it takes (a Pick of the pieces below plus its tables' module).
// No feature sees the cell itself.

/** A feature built by the cell: started after the listeners are up, stopped before they close. */
export interface Service {
  start?(): Promise<void> | void;
  stop?(): Promise<void> | void;
}

/** Registers background loops; they start and stop with the cell. */
export interface LoopRegistrar {
  addLoop(spec: LoopSpec): Loop;
}

/** Runs one-off background work; stop() aborts its signal and waits for it. */
export interface TaskRunner {
  spawn(name: string, fn: (signal: AbortSignal) => Promise<void>): void;
  /** True between start() and stop(): background work may begin. */
  readonly running: boolean;
}

/** The runtime pieces every feature may take. */
export interface Runtime {
  clock: () => number;
  log: Logger;
  /** Aborted when the cell stops; every background operation listens to it. */
  signal: AbortSignal;
  loops: LoopRegistrar;
  tasks: TaskRunner;
  /** Commands the CLI (and the dashboard) run on this cell. */
  control: ControlRegistry;
  /** The peer API: features register their endpoints here before start (default auth: paired peer). */
  api: FastifyInstance;
}
