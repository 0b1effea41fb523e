// The rows of `npm run bench:all` and their verdicts, as pure functions over the medians: a
// ratio against a reference measured in the same run, a target, pass / fail / skipped. A row
// is skipped when its reference could not run (not installed, failed, timed out): no ratio,
// no verdict. A row fails when Grove itself could not be measured.

import type { MachineInfo } from './lib.js';

export type Status = 'pass' | 'fail' | 'skipped' | 'info';

export interface Figure {
  value: number;
  unit: 's' | 'MB';
}

export interface Target {
  op: '>=' | '<=';
  value: number;
  unit: 'x' | 'MB';
}

export interface Row {
  work: string;
  grove?: Figure;
  reference?: { name: string; figure?: Figure };
  ratio?: number;
  /** None for a row that only gives context (status 'info'). */
  target?: Target;
  status: Status;
  note?: string;
}

const meets = (x: number, t: Target) => (t.op === '>=' ? x >= t.value : x <= t.value);

/**
 * Throughput against a reference: ratio = reference seconds / Grove seconds, so 2x means Grove
 * took half the reference's time. `why` says why a figure is missing.
 */
export function speedRow(work: string, grove: number | undefined, refName: string, ref: number | undefined, atLeast: number, why: { grove?: string; ref?: string } = {}): Row {
  return compare(work, grove, refName, ref, { op: '>=', value: atLeast, unit: 'x' }, (g, r) => r / g, why);
}

/** Start-up time against a reference: ratio = Grove seconds / reference seconds (lower is better). */
export function startupRow(work: string, grove: number | undefined, refName: string, ref: number | undefined, atMost: number, why: { grove?: string; ref?: string } = {}): Row {
  return compare(work, grove, refName, ref, { op: '<=', value: atMost, unit: 'x' }, (g, r) => g / r, why);
}

function compare(work: string, grove: number | undefined, refName: string, ref: number | undefined, target: Target, ratioOf: (g: number, r: number) => number, why: { grove?: string; ref?: string }): Row {
  const row: Row = {
    work,
    ...(grove !== undefined ? { grove: { value: grove, unit: 's' as const } } : {}),
    reference: { name: refName, ...(ref !== undefined ? { figure: { value: ref, unit: 's' as const } } : {}) },
    target,
    status: 'skipped',
  };
  if (grove === undefined) return { ...row, status: 'fail', note: why.grove ?? 'not measured' };
  if (ref === undefined) return { ...row, status: 'skipped', note: why.ref ?? `${refName} not measured` };
  const ratio = ratioOf(grove, ref);
  return { ...row, ratio, status: meets(ratio, target) ? 'pass' : 'fail' };
}

/**
 * Context, not a target: `what` seconds against the reference's `ref` seconds (ratio ref /
 * what, as for speed), with no pass or fail. The rows of the disk floor, for instance.
 */
export function infoRow(work: string, what: number | undefined, refName: string, ref: number | undefined): Row {
  return {
    work,
    ...(what !== undefined ? { grove: { value: what, unit: 's' as const } } : {}),
    reference: { name: refName, ...(ref !== undefined ? { figure: { value: ref, unit: 's' as const } } : {}) },
    ...(what !== undefined && ref !== undefined ? { ratio: ref / what } : {}),
    status: 'info',
  };
}

/** Peak RSS against an absolute limit; the reference's peak is shown for context only. */
export function rssRow(work: string, grove: number | undefined, refName: string | undefined, ref: number | undefined, limitMB: number, why?: string): Row {
  const target: Target = { op: '<=', value: limitMB, unit: 'MB' };
  const mb = (b: number): Figure => ({ value: b / 1e6, unit: 'MB' });
  const row: Row = {
    work,
    ...(grove !== undefined ? { grove: mb(grove) } : {}),
    ...(refName ? { reference: { name: refName, ...(ref !== undefined ? { figure: mb(ref) } : {}) } } : {}),
    target,
    status: 'skipped',
  };
  if (grove === undefined) return { ...row, status: 'fail', note: why ?? 'not measured' };
  return { ...row, status: meets(grove / 1e6, target) ? 'pass' : 'fail' };
}

export function formatFigure(f: Figure | undefined): string {
  if (!f) return '-';
  if (f.unit === 'MB') return `${f.value.toFixed(0)} MB`;
  return f.value < 1 ? `${(f.value * 1000).toFixed(0)} ms` : `${f.value.toFixed(2)} s`;
}

export function formatTarget(t: Target | undefined): string {
  if (!t) return '-';
  return `${t.op === '>=' ? '≥' : '≤'} ${t.value}${t.unit === 'x' ? 'x' : ' MB'}`;
}

/** "1 000 × 64 KiB", "1 GiB", "16 × 64 MiB". */
export function describeData(count: number, size: number): string {
  const unit = (n: number) => {
    for (const [u, m] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) if (n >= m && n % m === 0) return `${n / m} ${u}`;
    return `${n} B`;
  };
  const c = count.toLocaleString('en-US').replace(/,/g, ' ');
  return count === 1 ? unit(size) : `${c} × ${unit(size)}`;
}

export function formatMachine(m: MachineInfo): string {
  return `${m.cpu}, ${m.cores} cores, ${m.ram_gib} GiB RAM, load ${m.load.map((x) => x.toFixed(2)).join(' ')}, Node ${m.node}, Linux ${m.kernel}`;
}

export function formatTable(rows: Row[]): string {
  const cells = rows.map((r) => [
    r.work,
    formatFigure(r.grove),
    r.reference ? `${r.reference.name} ${formatFigure(r.reference.figure)}` : '-',
    r.ratio === undefined ? '-' : `${r.ratio.toFixed(2)}x`,
    formatTarget(r.target),
    r.status === 'fail' ? 'FAIL' : r.status === 'info' ? '' : r.status,
  ]);
  const head = ['work', 'grove', 'reference', 'ratio', 'target', 'result'];
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const right = new Set([1, 3]);
  const line = (c: string[]) => c.map((x, i) => (right.has(i) ? x.padStart(width[i]!) : x.padEnd(width[i]!))).join('  ').trimEnd();
  const out = [line(head), line(width.map((w) => '-'.repeat(w)))];
  rows.forEach((r, i) => {
    out.push(line(cells[i]!));
    if (r.note) out.push(`    ${r.note}`);
  });
  return out.join('\n');
}
