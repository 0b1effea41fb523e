import { runRound, type SyncEnv, type RoundSummary } from './round.js';

// One sync round at a time (docs/design.md §4 "rounds never overlap"): a request while a round runs
// joins it instead of starting another. The daemon's loop and `grove sync` both come here.

export class SyncService {
  private running: Promise<RoundSummary> | undefined;
  last: RoundSummary | undefined;
  /** Called after each round (the cell turns it into an event). */
  onRound: ((s: RoundSummary) => void) | undefined;

  constructor(private readonly env: () => SyncEnv) {}

  /** Runs a round now, or joins the one in progress. */
  runNow(signal?: AbortSignal): Promise<RoundSummary> {
    if (!this.running) {
      this.running = runRound(this.env(), signal)
        .then((s) => {
          this.last = s;
          this.onRound?.(s);
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
}
