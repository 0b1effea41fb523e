import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { homePaths } from '../home/paths.js';
import { callControl } from '../daemon/control-client.js';
import type { CellStatus } from '../daemon/status.js';
import { describeError } from '../errors.js';
import { commitInstall, currentRoot, installPending, rollBack, type Installed } from '../update/install.js';
import { EXIT_GAVE_UP, EXIT_RESTART, EXIT_STOP, EXIT_UPDATE } from './exit-codes.js';
import { backoffMs, shouldGiveUp, recentCrashes, DEFAULT_RESTART_POLICY, type RestartPolicy } from './policy.js';
import { LastLines } from './lines.js';
import { supervisionEnv } from './supervision.js';
import { nodeFlagsOf } from '../daemon/node-flags.js';

// `grove watchdog` (docs/operations.md "The watchdog"): runs `grove start` as a child and
// keeps it alive — restarts with backoff, gives up after too many crashes, kills a cell that
// stops answering on its control socket, keeps the last output of a crash, installs accepted
// updates and rolls back a build that does not come up. The watchdog's own code never
// changes while it runs: only the child's tree (HOME/builds/current) does.

export interface HealthTiming {
  /** How often the control socket is asked for `status`. */
  intervalMs: number;
  /** How long one status call may take. */
  timeoutMs: number;
  /** How long a fresh cell may take to answer for the first time. */
  startupMs: number;
  /** A cell that answered once and then has not for this long is killed as hung. */
  hungMs: number;
}

export interface ProbationTiming {
  /** The new build must answer with its own build_hash within this time… */
  timeoutMs: number;
  /** …and then stay healthy this long. */
  settleMs: number;
}

export const DEFAULT_HEALTH: HealthTiming = { intervalMs: 5000, timeoutMs: 5000, startupMs: 120_000, hungMs: 30_000 };
export const DEFAULT_PROBATION: ProbationTiming = { timeoutMs: 120_000, settleMs: 30_000 };

export interface WatchdogOptions {
  home: string;
  /** The installation the watchdog runs from: the cell's tree until an update is installed. */
  baseRoot: string;
  /** Extra arguments for `grove start` (e.g. --port, --host). */
  startArgs: string[];
  policy?: RestartPolicy;
  health?: Partial<HealthTiming>;
  probation?: Partial<ProbationTiming>;
  /** How long a stopping cell may take before it is killed. */
  stopTimeoutMs?: number;
  clock?: () => number;
  /** One line per event. */
  log: (line: string) => void;
  /** Where the child's output is forwarded. */
  stdout?: Writable;
  stderr?: Writable;
  /** Aborting stops the cell cleanly; run() then resolves 0. */
  signal: AbortSignal;
  nodePath?: string;
}

type Outcome =
  | { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null; probationPassed: boolean; healthyFor: number }
  | { kind: 'hung'; probationPassed: boolean; healthyFor: number }
  | { kind: 'stopped' };

export class Watchdog {
  private readonly policy: RestartPolicy;
  private readonly health: HealthTiming;
  private readonly probation: ProbationTiming;
  private readonly clock: () => number;
  private restarts = 0;

  constructor(private readonly o: WatchdogOptions) {
    this.policy = o.policy ?? DEFAULT_RESTART_POLICY;
    this.health = { ...DEFAULT_HEALTH, ...o.health };
    this.probation = { ...DEFAULT_PROBATION, ...o.probation };
    this.clock = o.clock ?? Date.now;
  }

  /** Supervises until stopped (0), the cell stops itself (0) or the watchdog gives up (EXIT_GAVE_UP). */
  async run(): Promise<number> {
    const crashes: number[] = [];
    let consecutive = 0;
    let trial = await this.install();
    while (!this.o.signal.aborted) {
      const root = currentRoot(this.o.home, this.o.baseRoot);
      const out = await this.runChild(root, trial);
      if (out.kind === 'stopped') return EXIT_STOP;
      if (trial) {
        const passed = out.probationPassed;
        if (!passed) {
          const why = out.kind === 'hung' ? 'did not become healthy in its probation' : `exited during probation (${describeExit(out.code, out.signal)})`;
          rollBack(this.o.home, trial, why);
          this.o.log(`build ${trial.version} ${why}: rolled back to ${trial.previousRoot} and marked bad`);
          if (out.kind === 'exit') this.crashLog(out.code, out.signal, `probation of build ${trial.version}`);
          trial = undefined;
          this.restarts++;
          continue;
        }
        trial = undefined;
      }
      if (out.kind === 'exit' && out.code === EXIT_STOP && out.signal === null) {
        this.o.log('the cell stopped (exit 0); the watchdog stops too');
        return EXIT_STOP;
      }
      if (out.kind === 'exit' && out.code === EXIT_RESTART) {
        this.o.log('the cell asked to be restarted');
        this.restarts++;
        consecutive = 0;
        continue;
      }
      if (out.kind === 'exit' && out.code === EXIT_UPDATE) {
        this.o.log('the cell accepted an update; installing it');
        trial = await this.install();
        this.restarts++;
        consecutive = 0;
        continue;
      }
      // A crash: the child exited by itself with another code, died by a signal, or hung.
      const what = out.kind === 'hung' ? 'stopped answering on its control socket and was killed' : `exited unexpectedly (${describeExit(out.code, out.signal)})`;
      const file = this.crashLog(out.kind === 'exit' ? out.code : null, out.kind === 'exit' ? out.signal : 'SIGKILL', what);
      const now = this.clock();
      if (out.healthyFor >= this.policy.windowMs) consecutive = 0;
      crashes.push(now);
      consecutive++;
      crashes.splice(0, crashes.length, ...recentCrashes(crashes, now, this.policy));
      if (shouldGiveUp(crashes, now, this.policy)) {
        this.o.log(`the cell crashed ${crashes.length} times within ${Math.round(this.policy.windowMs / 1000)} s; giving up (last output in ${file})`);
        return EXIT_GAVE_UP;
      }
      const wait = backoffMs(consecutive, this.policy);
      this.o.log(`the cell ${what}; restarting in ${wait} ms (output in ${file})`);
      if (!(await sleep(wait, this.o.signal))) return EXIT_STOP;
      this.restarts++;
    }
    return EXIT_STOP;
  }

  private async install(): Promise<Installed | undefined> {
    try {
      const inst = await installPending(this.o.home, this.o.baseRoot, this.o.log, this.clock);
      if (inst) this.o.log(`installed build ${inst.version} (${inst.hash.slice(0, 12)}); starting it on probation`);
      return inst;
    } catch (e) {
      this.o.log(`update not installed: ${describeError(e)}`);
      return undefined;
    }
  }

  private crashLog(code: number | null, signal: NodeJS.Signals | null, what: string): string {
    const logs = homePaths(this.o.home).logs;
    const at = new Date(this.clock()).toISOString().replace(/:/g, '-');
    const file = join(logs, `crash-${at}.log`);
    try {
      mkdirSync(logs, { recursive: true });
      writeFileSync(file, `# grove watchdog: the cell ${what} (${describeExit(code, signal)}) at ${new Date(this.clock()).toISOString()}\n# its last output:\n${this.last.text()}`, { mode: 0o644 });
    } catch (e) {
      this.o.log(`could not write ${file}: ${describeError(e)}`);
    }
    return file;
  }

  private last = new LastLines();

  private runChild(root: string, trial: Installed | undefined): Promise<Outcome> {
    this.last = new LastLines();
    const paths = homePaths(this.o.home);
    const bin = join(root, 'bin', 'grove');
    const child: ChildProcess = spawn(this.o.nodePath ?? process.execPath, [...nodeFlagsOf(bin), bin, '--home', this.o.home, 'start', ...this.o.startArgs], {
      env: { ...process.env, ...supervisionEnv(this.restarts) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const last = this.last;
    child.stdout!.on('data', (d: Buffer) => { last.push(d); this.o.stdout?.write(d); });
    child.stderr!.on('data', (d: Buffer) => { last.push(d); this.o.stderr?.write(d); });
    const startedAt = this.clock();
    let firstOk: number | undefined;
    let lastOk: number | undefined;
    let probationOkSince: number | undefined;
    let probationPassed = false;
    let hung = false;
    let stopping = false;

    return new Promise<Outcome>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let checking: AbortController | undefined;
      const onAbort = () => {
        stopping = true;
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), this.o.stopTimeoutMs ?? 30_000);
        child.once('exit', () => clearTimeout(kill));
      };
      child.once('error', (e) => this.o.log(`could not start the cell: ${describeError(e)}`));
      child.once('exit', (code, signal) => {
        if (timer) clearTimeout(timer);
        checking?.abort();
        this.o.signal.removeEventListener('abort', onAbort);
        const healthyFor = firstOk === undefined ? 0 : this.clock() - firstOk;
        if (stopping) resolve({ kind: 'stopped' });
        else if (hung) resolve({ kind: 'hung', probationPassed, healthyFor });
        else resolve({ kind: 'exit', code, signal, probationPassed, healthyFor });
      });
      if (this.o.signal.aborted) onAbort();
      else this.o.signal.addEventListener('abort', onAbort, { once: true });

      const killHung = (why: string) => {
        if (hung || stopping) return;
        hung = true;
        this.o.log(why);
        child.kill('SIGKILL');
      };
      const check = async () => {
        if (child.exitCode !== null || child.signalCode !== null || stopping) return;
        checking = new AbortController();
        let s: CellStatus | undefined;
        try {
          s = await callControl<CellStatus>(paths, 'status', {}, { timeoutMs: this.health.timeoutMs, signal: checking.signal });
        } catch { /* not answering (yet) */ }
        const now = this.clock();
        if (s && s.pid === child.pid) {
          if (firstOk === undefined) this.o.log(`the cell (pid ${child.pid}) is up: grove ${s.version}${s.build_hash ? ` (${s.build_hash.slice(0, 12)})` : ''}`);
          firstOk ??= now;
          lastOk = now;
          if (trial && !probationPassed) {
            if (s.build_hash === trial.hash) probationOkSince ??= now;
            if (probationOkSince !== undefined && now - probationOkSince >= this.probation.settleMs) {
              probationPassed = true;
              commitInstall(this.o.home, trial);
              this.o.log(`build ${trial.version} passed its probation`);
            }
          }
        } else if (lastOk !== undefined && now - lastOk >= this.health.hungMs) {
          killHung(`the cell (pid ${child.pid}) has not answered for ${now - lastOk} ms; killing it`);
        } else if (lastOk === undefined && now - startedAt >= this.health.startupMs) {
          killHung(`the cell (pid ${child.pid}) did not answer within ${this.health.startupMs} ms of starting; killing it`);
        }
        if (trial && !probationPassed && now - startedAt >= this.probation.timeoutMs) {
          killHung(`build ${trial.version} did not pass its probation within ${this.probation.timeoutMs} ms`);
        }
        if (child.exitCode === null && child.signalCode === null && !stopping) timer = setTimeout(() => void check(), this.health.intervalMs);
      };
      timer = setTimeout(() => void check(), Math.min(this.health.intervalMs, 250));
    });
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `exit code ${code}`;
}

/** Resolves true after `ms`, false at once if `signal` aborts first. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const t = setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(true); }, ms);
    const onAbort = () => { clearTimeout(t); resolve(false); };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
