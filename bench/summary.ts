import { cpuKernelNames } from '../src/engines/kernels.js';
import { headlineRatio, type KernelRow, type Parts, type ScalingRow } from './results.js';
import { starvationStrategies } from './starvation.js';
import { type Repeated, ratio, round } from './stats.js';
import { primaryRoute, type StrategyInfo } from './strategies.js';

/**
 * The named ratios that summary.json holds, so runs can be compared over time. Every figure is a
 * ratio of two measurements from the same run, which cancels most of the machine's own speed.
 * A figure that could not be measured is NaN here (null in the JSON) — visible, never dropped.
 */
export interface Summary {
  /**
   * ping p99 under saturating heavy load ÷ idle ping p99, per strategy (its primary route): every
   * run's pings pooled (each run's idle baseline is measured right before its load), in `spread`
   * the pooled figure's bootstrap interval (results.ts, `pooled.p99Interval`; the runs' own ratios'
   * min–max in older results). Results from before pooling hold the median of the runs' ratios.
   */
  ping_p99_ratio?: Record<string, number>;
  /** The same at p99.9. */
  ping_p999_ratio?: Record<string, number>;
  /**
   * The same two ratios for the floor (results.ts, `floor`): cores kept busy by threads under
   * SCHED_IDLE and no request. It moves with the machine, not with offloop's code.
   */
  ping_floor?: { p99: number; p999: number };
  /** ops/s ÷ js's ops/s, per kernel and native engine (sync forms, same inputs). */
  speedup?: Record<string, Record<string, number>>;
  /** ops/s ÷ crypto.pbkdf2Sync's ops/s, per engine (sync forms). */
  pbkdf2_vs_openssl?: Record<string, number>;
  /** noop round-trip time (median) ÷ piscina's. */
  dispatch_ratio?: Record<string, number>;
  /** The same with every thread of the process pinned to one core: the mechanisms' own cost (no cross-core wake-up). */
  dispatch_ratio_one_core?: Record<string, number>;
  /** async ops/s with 2 in flight ÷ with 1. */
  scaling?: Record<string, number>;
  /**
   * offloop /ping req/s ÷ a bare uWS server's req/s, with wrk as the load generator (≤ 1: higher is
   * leaner); without wrk, the bare server's CPU per request ÷ offloop's. Median over the rounds.
   */
  routing_overhead?: number;
  /** The same ratio for the other routes and log levels: `primes` (cpp-sync, limit 10), `…_silent` (no access log). */
  routing?: Record<string, number>;
  /** bare uWS's server CPU per request ÷ offloop's, per route and log level: the overhead that survives contention. */
  routing_cpu?: Record<string, number>;
  /** fs read p99 while the strategy's jobs fill its pool ÷ idle fs read p99. */
  starvation_ratio?: Record<string, number>;
  /** ping p99 under load on a seed route ÷ idle, per database and route (bench/seed-db.ts). */
  seed?: Record<string, Record<string, number>>;
  /** the same for /query's strategies: SQLite blocking and worker, PostgreSQL async. */
  query?: Record<string, number>;
  /**
   * Spread [low, high] of the figures that were repeated, by dotted key (`ping_p99_ratio.cpp`):
   * a pooled ping ratio's bootstrap interval, else the runs' min–max.
   */
  spread?: Record<string, [number, number]>;
}

const nativeEngines: readonly KernelRow['engine'][] = ['cpp', 'rust'];
const scalingEngines: readonly ScalingRow['engine'][] = ['cpp', 'rust', 'workers'];

export function computeSummary(parts: Parts, table: readonly StrategyInfo[]): Summary {
  const summary: Summary = {};
  const spread: Record<string, [number, number]> = {};
  /** The median, with its spread noted when the figure was measured more than once. */
  const median = (key: string, value: Repeated | undefined, runs: number) => {
    if (value && runs > 1 && Number.isFinite(value.min)) spread[key] = [round(value.min), round(value.max)];
    return round(value?.median ?? NaN);
  };
  /** A pooled ratio's bootstrap interval as its spread; false where there is none. */
  const noteInterval = (key: string, interval: [number, number] | undefined) => {
    if (!interval?.every(Number.isFinite)) return false;
    spread[key] = [round(interval[0]), round(interval[1])];
    return true;
  };
  const { http, kernels } = parts;
  if (http) {
    const primary = (s: StrategyInfo) => http.heavy.find((r) => r.strategy === s.name && r.route === primaryRoute(s));
    for (const key of ['ping_p99_ratio', 'ping_p999_ratio'] as const) {
      const field = key === 'ping_p99_ratio' ? 'pingP99Ratio' : 'pingP999Ratio';
      const at = key === 'ping_p99_ratio' ? 'p99' : 'p999';
      summary[key] = Object.fromEntries(
        table.map((s) => {
          const row = primary(s);
          // The spread: how far the pooled figure could move between invocations (its bootstrap
          // interval), which narrows with more runs where the runs' own min–max would widen.
          const interval = key === 'ping_p99_ratio' ? row?.pooled?.p99Interval : row?.pooled?.p999Interval;
          if (!noteInterval(`${key}.${s.name}`, interval))
            median(`${key}.${s.name}`, row?.[field], row?.runs.length ?? 0); // notes the runs' spread
          // The pooled figure where there is one, else the runs' median.
          return [s.name, round(row ? headlineRatio(row, at) : NaN)];
        }),
      );
    }
  }
  if (http?.floor) {
    const { floor } = http;
    noteInterval('ping_floor.p99', floor.pooled?.p99Interval);
    noteInterval('ping_floor.p999', floor.pooled?.p999Interval);
    summary.ping_floor = { p99: round(headlineRatio(floor, 'p99')), p999: round(headlineRatio(floor, 'p999')) };
  }
  if (kernels) {
    const ops = (kernel: string, engine: string) =>
      kernels.kernels.find((r) => r.kernel === kernel && r.engine === engine)?.opsPerSec;
    summary.speedup = Object.fromEntries(
      cpuKernelNames.map((k) => [
        k,
        Object.fromEntries(nativeEngines.map((e) => [e, round(ratio(ops(k, e), ops(k, 'js')))])),
      ]),
    );
    const openssl = kernels.openssl.find((r) => r.name === 'crypto.pbkdf2Sync')?.opsPerSec;
    summary.pbkdf2_vs_openssl = Object.fromEntries(
      (['js', ...nativeEngines] as const).map((e) => [e, round(ratio(ops('pbkdf2', e), openssl))]),
    );
    // The median of each round's ratio (paths measured moments apart), else the medians' ratio.
    const trip = (name: string) => kernels.dispatch.find((r) => r.name === name);
    const tripRatio = (n: string) => trip(n)?.rounds?.ratioWall.p50 ?? ratio(trip(n)?.p50Ms, trip('workers')?.p50Ms);
    const dispatchPaths = ['cpp', 'rust', 'cpp-pool', 'rust-pool', 'postmessage'];
    summary.dispatch_ratio = Object.fromEntries(dispatchPaths.map((n) => [n, round(tripRatio(n))]));
    const oneCore = kernels.dispatchOneCore;
    if (oneCore) {
      const oneCoreRatio = (n: string) => oneCore.find((r) => r.name === n)?.rounds?.ratioWall.p50;
      summary.dispatch_ratio_one_core = Object.fromEntries(
        dispatchPaths.map((n) => [n, round(oneCoreRatio(n) ?? Number.NaN)]),
      );
    }
    const rate = (engine: string, inFlight: number) =>
      kernels.scaling.find((r) => r.engine === engine && r.inFlight === inFlight)?.opsPerSec;
    summary.scaling = Object.fromEntries(scalingEngines.map((e) => [e, round(ratio(rate(e, 2), rate(e, 1)))]));
  }
  if (http) {
    const rounds = new Set(http.routing.rows.map((r) => r.round)).size;
    summary.routing_overhead = median('routing_overhead', http.routing.ratios['ping.offloop'], rounds);
    const name = (key: string) => key.replace('.offloop-silent', '_silent').replace('.offloop', '');
    summary.routing = {};
    for (const [key, value] of Object.entries(http.routing.ratios))
      if (key !== 'ping.offloop') summary.routing[name(key)] = median(`routing.${name(key)}`, value, rounds);
    summary.routing_cpu = {};
    for (const [key, value] of Object.entries(http.routing.cpuRatios ?? {}))
      summary.routing_cpu[name(key)] = median(`routing_cpu.${name(key)}`, value, rounds);
    summary.starvation_ratio = Object.fromEntries(
      starvationStrategies(table).map((name) => [
        name,
        round(http.starvation.find((r) => r.strategy === name)?.ratio ?? NaN),
      ]),
    );
  }
  if (Object.keys(spread).length > 0) summary.spread = spread;
  return summary;
}

/** Nested objects → dotted keys, in order: { speedup: { primes: { cpp: 4 } } } → speedup.primes.cpp. */
export function flatten(value: unknown, prefix = ''): Array<[string, number]> {
  if (value !== null && typeof value === 'object') {
    // The spread qualifies the figures; it is not a figure of its own.
    return Object.entries(value)
      .filter(([key]) => !(prefix === '' && key === 'spread'))
      .flatMap(([key, inner]) => flatten(inner, prefix ? `${prefix}.${key}` : key));
  }
  return [[prefix, typeof value === 'number' ? value : NaN]];
}
