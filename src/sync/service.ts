import { runRound, type SyncEnv, type RoundSummary } from './round.js';

// One sync round at a time (docs/design.md §4 "rounds never overlap"): a request while a round runs
// joins it instead of starting another. The daemon's loop and `grove sync` both come here.

export class SyncService {
  private running: Promise<RoundSummary> | undefined;
  last: RoundSummary | undefined;
  /** `onRound` hears every finished round (the cell's 'sync-done' event). */
  constructor(private readonly env: () => SyncEnv, private readonly onRound?: (s: RoundSummary) => void) {}

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
