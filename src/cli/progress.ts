import cliProgress from 'cli-progress';
import { formatBytes } from './context.js';

// A progress bar on stderr (docs/design.md §5 "long work shows progress on a terminal"):
// bytes done / total, rate, ETA. Off when stderr is not a terminal or with --json, so
// scripts and logs never see control characters.

export interface ByteProgress {
  /** Adds done bytes. */
  add(bytes: number): void;
  /** Changes the label (e.g. the file being processed). */
  label(text: string): void;
  stop(): void;
}

export interface ProgressInit {
  total: number;
  label: string;
  enabled: boolean;
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  now?: () => number;
  /** What is counted (default bytes). */
  unit?: 'bytes' | 'objects';
}

const NOOP: ByteProgress = { add: () => {}, label: () => {}, stop: () => {} };

export function progressEnabled(json: boolean, stream: { isTTY?: boolean } = process.stderr): boolean {
  return !json && stream.isTTY === true;
}

export function byteProgress(init: ProgressInit): ByteProgress {
  if (!init.enabled) return NOOP;
  const now = init.now ?? Date.now;
  const started = now();
  let label = init.label;
  let value = 0;
  const bar = new cliProgress.SingleBar({
    stream: init.stream ?? process.stderr,
    hideCursor: true,
    clearOnComplete: true,
    barsize: 24,
    fps: 8,
    format: (options, params) => {
      const secs = Math.max((now() - started) / 1000, 0.001);
      const rate = params.value / secs;
      const left = rate > 0 ? (params.total - params.value) / rate : 0;
      const bar = cliProgress.Format.BarFormat(params.progress, options);
      const pct = Math.floor(params.progress * 100).toString().padStart(3);
      const amount = init.unit === 'objects'
        ? `${params.value}/${params.total} objects ${rate.toFixed(0)}/s`
        : `${formatBytes(params.value)}/${formatBytes(params.total)} ${formatBytes(rate)}/s`;
      return `${label} ${bar} ${pct}% ${amount} ETA ${formatEta(left)}`;
    },
  });
  bar.start(Math.max(init.total, 1), 0);
  return {
    add(bytes) {
      value += bytes;
      bar.update(Math.min(value, init.total));
    },
    label(text) {
      label = text;
    },
    stop() {
      bar.stop();
    },
  };
}

export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
