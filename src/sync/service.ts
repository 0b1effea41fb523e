import { runRound, type SyncEnv, type RoundSummary } from './round.js';

// Runs sync rounds: one at a time (a request during a round joins it), every interval plus
// random jitter (DESIGN §4 "every ~5 min"), and on demand (`grove sync`). Timing is injected.

export interface SyncServiceOptions {
  intervalMs: number;
  jitterMs: number;
  random?: () => number;
  setTimer?: (fn: () => void, ms: number) => { unref?: () => void } & object;
  clearTimer?: (t: object) => void;
}

export class SyncService {
  private running: Promise<RoundSummary> | undefined;
  private timer: object | undefined;
  private stopped = true;
  private readonly abort = new AbortController();
  last: RoundSummary | undefined;

  constructor(private readonly env: () => SyncEnv, private readonly opts: SyncServiceOptions) {}

  /** Runs a round now, or joins the one in progress. Never two at once. */
  runNow(): Promise<RoundSummary> {
    if (!this.running) {
      this.running = runRound(this.env(), this.abort.signal)
        .then((s) => {
          this.last = s;
          return s;
        })
        .finally(() => {
          this.running = undefined;
        });
    }
    return this.running;
  }

  get busy(): boolean {
    return this.running !== undefined;
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Stops the loop and waits for a round in progress to end (aborting its transfers). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) (this.opts.clearTimer ?? ((t) => clearTimeout(t as NodeJS.Timeout)))(this.timer);
    this.timer = undefined;
    this.abort.abort();
    await this.running?.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped) return;
    const delay = this.opts.intervalMs + Math.floor((this.opts.random ?? Math.random)() * this.opts.jitterMs);
    const set = this.opts.setTimer ?? ((fn, ms) => setTimeout(fn, ms));
    const t = set(() => {
      this.runNow()
        .catch((e) => this.env().log.error({ err: e }, 'sync round failed'))
        .finally(() => this.schedule());
    }, delay);
    t.unref?.();
    this.timer = t;
  }
}
