import type { Logger } from 'pino';
import { describeError } from '../errors.js';

// A background loop of the daemon (probes now; the sync round later). Runs never overlap:
// the next run is scheduled when the previous one ends. Errors are logged, never swallowed
// silently, and never stop the loop. stop() aborts the running pass and waits for it.

export interface LoopSpec {
  name: string;
  /** Pause between the end of one run and the start of the next (a function: for jitter). */
  intervalMs: number | (() => number);
  /** Delay before the first run (default 0: at start). */
  initialDelayMs?: number;
  run: (signal: AbortSignal) => Promise<void>;
}

export class Loop {
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<void> | undefined;
  private abort = new AbortController();
  private running = false;
  /** Completed runs (tests wait on this instead of sleeping). */
  runs = 0;
  /** When the next scheduled run starts (ms since the epoch, Date.now), if one is scheduled. */
  nextRunAt: number | undefined;

  constructor(readonly spec: LoopSpec, private readonly log: Logger) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.schedule(this.spec.initialDelayMs ?? 0);
  }

  /** Runs a pass now (after the one in flight, if any) and resolves when it has finished. */
  async runNow(): Promise<void> {
    while (this.current) await this.current.catch(() => {});
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.pass(true);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.abort.abort();
    if (this.current) await this.current.catch(() => {});
  }

  private schedule(ms: number): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.nextRunAt = Date.now() + Math.max(0, ms);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.nextRunAt = undefined;
      void this.pass(false);
    }, Math.max(0, ms));
  }

  private async pass(rethrow: boolean): Promise<void> {
    const signal = this.abort.signal;
    const run = (async () => {
      try {
        await this.spec.run(signal);
      } catch (e) {
        if (signal.aborted) return;
        this.log.error({ loop: this.spec.name, err: e }, `${this.spec.name} failed: ${describeError(e)}`);
        if (rethrow) throw e;
      } finally {
        this.runs++;
      }
    })();
    this.current = run;
    try {
      await run;
    } finally {
      if (this.current === run) this.current = undefined;
      const iv = typeof this.spec.intervalMs === 'function' ? this.spec.intervalMs() : this.spec.intervalMs;
      if (!this.timer) this.schedule(iv);
    }
  }
}
