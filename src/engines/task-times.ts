import { createHistogram, performance, type RecordableHistogram } from 'node:perf_hooks';
import type { TimeSummary } from './addon.js';

/** Histograms take positive integers: times are recorded in nanoseconds, reported in ms. */
const ns = (ms: number) => Math.max(1, Math.round(ms * 1e6));
const summary = (histogram: RecordableHistogram): TimeSummary =>
  histogram.count === 0
    ? { p50: 0, p99: 0, max: 0 }
    : { p50: histogram.percentile(50) / 1e6, p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6 };

/**
 * What a pool has done since it started, from the times its dispatcher sees: when a task was
 * queued, handed to a thread, and settled (piscina's names: completed, utilization, runTime, waitTime).
 */
export class TaskTimes {
  readonly #since = performance.now();
  readonly #run = createHistogram();
  readonly #wait = createHistogram();
  #busy = 0; // ms the threads spent on tasks
  #completed = 0;

  /** Wait time of a task handed to a thread at `started` (performance.now()). */
  started(queuedAt: number, startedAt: number): void {
    this.#wait.record(ns(startedAt - queuedAt));
  }

  /** A task that left its thread (resolved, rejected or cancelled). */
  settled(startedAt: number): void {
    const ran = performance.now() - startedAt;
    this.#run.record(ns(ran));
    this.#busy += ran;
    this.#completed++;
  }

  stats(threads: number) {
    const elapsed = performance.now() - this.#since;
    return {
      completed: this.#completed,
      utilization: elapsed > 0 ? Math.min(1, this.#busy / (elapsed * threads)) : 0,
      runTime: summary(this.#run),
      waitTime: summary(this.#wait),
    };
  }
}
