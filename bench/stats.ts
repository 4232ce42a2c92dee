import { rng } from '#rng';

/** Latency summaries: every figure we publish is one of these, in milliseconds. */
export interface LatencySummary {
  n: number;
  mean: number;
  p50: number;
  p99: number;
  /** With n samples, p99.9 is one of the n/1000 slowest: below 1000 samples it is the maximum. */
  p999: number;
  max: number;
}

/** Nearest-rank percentile of an ascending array (no interpolation: every value was observed). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(values: readonly number[]): LatencySummary {
  const sorted = [...values].sort((a, b) => a - b);
  const mean = sorted.reduce((sum, v) => sum + v, 0) / sorted.length;
  return {
    n: sorted.length,
    mean,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    p999: percentile(sorted, 99.9),
    max: sorted.at(-1) ?? NaN,
  };
}

/** a ÷ b, or NaN when either is missing or b is 0 — a NaN ratio is reported, never hidden. */
export function ratio(a: number | undefined, b: number | undefined): number {
  return a === undefined || b === undefined || b === 0 ? NaN : a / b;
}

/** The median of repeated figures and their spread (min–max): NaNs (failed runs) are left out. */
export interface Repeated {
  median: number;
  min: number;
  max: number;
}

export function repeated(values: readonly number[]): Repeated {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return { median: NaN, min: NaN, max: NaN };
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)! };
}

/** Rounds for storage: enough digits to compare runs, not so many that diffs are noise. */
export function round(value: number, digits = 4): number {
  return Number.isFinite(value) ? Number(value.toPrecision(digits)) : value;
}

/** A short human figure: 0.0123 ms, 12.3 ms, 1234 ms. */
export function fmt(value: number | undefined, digits = 3): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(1);
  return Math.abs(value) >= 10 ** digits
    ? Math.round(value).toLocaleString('en-US')
    : String(Number(value.toPrecision(digits)));
}

/**
 * How far figures computed from runs pooled together can move from sampling alone: each figure
 * over `draws` resamplings of the runs with replacement (a bootstrap over whole runs, which keeps
 * a run's stalls together), its 5th–95th percentile. Seeded: the same runs give the same ranges.
 */
export function bootstrapRanges<T>(
  runs: readonly T[],
  figures: (runs: readonly T[]) => number[],
  draws = 200,
): Array<[number, number]> {
  const random = rng(0x5eed);
  const drawn = Array.from({ length: draws }, () => figures(Array.from(runs, () => random.pick(runs))));
  return (drawn[0] ?? []).map((_, i) => {
    const values = drawn.map((d) => d[i]!);
    if (!values.every(Number.isFinite)) return [NaN, NaN];
    values.sort((a, b) => a - b);
    return [percentile(values, 5), percentile(values, 95)];
  });
}
