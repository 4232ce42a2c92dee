import { cpuKernelNames } from '../src/engines/kernels.js';
import type { KernelRow, Parts, ScalingRow } from './results.js';
import { starvationStrategies } from './starvation.js';
import { ratio, round } from './stats.js';
import { primaryRoute, type StrategyInfo } from './strategies.js';

/**
 * The named ratios that summary.json holds, so runs can be compared over time. Every figure is a
 * ratio of two measurements from the same run, which cancels most of the machine's own speed.
 * A figure that could not be measured is NaN here (null in the JSON) — visible, never dropped.
 */
export interface Summary {
  /** ping p99 under saturating heavy load ÷ idle ping p99, per strategy (its primary route). */
  ping_p99_ratio?: Record<string, number>;
  /** ops/s ÷ js's ops/s, per kernel and native engine (sync forms, same inputs). */
  speedup?: Record<string, Record<string, number>>;
  /** ops/s ÷ crypto.pbkdf2Sync's ops/s, per engine (sync forms). */
  pbkdf2_vs_openssl?: Record<string, number>;
  /** noop round-trip time (median) ÷ piscina's. */
  dispatch_ratio?: Record<string, number>;
  /** async ops/s with 2 in flight ÷ with 1. */
  scaling?: Record<string, number>;
  /** offloop /ping req/s ÷ a bare uWS server's req/s. */
  routing_overhead?: number;
  /** fs read p99 while the strategy's jobs fill its pool ÷ idle fs read p99. */
  starvation_ratio?: Record<string, number>;
  /** ping p99 under load on a seed route ÷ idle, per database and route (bench/seed-db.ts). */
  seed?: Record<string, Record<string, number>>;
  /** the same for /query's strategies: SQLite blocking and worker, PostgreSQL async. */
  query?: Record<string, number>;
}

const nativeEngines: readonly KernelRow['engine'][] = ['cpp', 'rust'];
const scalingEngines: readonly ScalingRow['engine'][] = ['cpp', 'rust', 'workers'];

export function computeSummary(parts: Parts, table: readonly StrategyInfo[]): Summary {
  const summary: Summary = {};
  const { http, kernels } = parts;
  if (http) {
    summary.ping_p99_ratio = Object.fromEntries(
      table.map((s) => [
        s.name,
        round(http.heavy.find((r) => r.strategy === s.name && r.route === primaryRoute(s))?.pingP99Ratio ?? NaN),
      ]),
    );
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
    summary.dispatch_ratio = Object.fromEntries(
      ['cpp', 'rust', 'cpp-pool', 'rust-pool', 'postmessage'].map((n) => [n, round(tripRatio(n))]),
    );
    const rate = (engine: string, inFlight: number) =>
      kernels.scaling.find((r) => r.engine === engine && r.inFlight === inFlight)?.opsPerSec;
    summary.scaling = Object.fromEntries(scalingEngines.map((e) => [e, round(ratio(rate(e, 2), rate(e, 1)))]));
  }
  if (http) {
    summary.routing_overhead = round(http.routingOverhead ?? NaN);
    summary.starvation_ratio = Object.fromEntries(
      starvationStrategies(table).map((name) => [
        name,
        round(http.starvation.find((r) => r.strategy === name)?.ratio ?? NaN),
      ]),
    );
  }
  return summary;
}

/** Nested objects → dotted keys, in order: { speedup: { primes: { cpp: 4 } } } → speedup.primes.cpp. */
export function flatten(value: unknown, prefix = ''): Array<[string, number]> {
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, inner]) => flatten(inner, prefix ? `${prefix}.${key}` : key));
  }
  return [[prefix, typeof value === 'number' ? value : NaN]];
}
