import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { HttpError } from './http.js';
import type { LoopMonitor } from './loop-monitor.js';

/** The limits past which new work is shed; 0 turns one off. */
export interface PressureLimits {
  /** Longest the loop may have been blocked in the last sample, in ms. */
  maxLoopDelay: number;
  /** Share of the last sample the loop may have been busy (0..1). */
  maxLoopUtilization: number;
  /** V8 heap in use, in MiB. */
  maxHeapMb: number;
  /** Resident set size, in MiB. */
  maxRssMb: number;
}

/** What each limit is called in the metrics, in the 503's JSON and on the command line. */
const limits = [
  { reason: 'loop_delay', key: 'maxLoopDelay', flag: '--max-loop-delay', unit: 'ms' },
  { reason: 'loop_utilization', key: 'maxLoopUtilization', flag: '--max-loop-utilization', unit: '' },
  { reason: 'heap', key: 'maxHeapMb', flag: '--max-heap-mb', unit: 'MiB' },
  { reason: 'rss', key: 'maxRssMb', flag: '--max-rss-mb', unit: 'MiB' },
] as const;
export type ShedReason = (typeof limits)[number]['reason'];
export const shedReasons: readonly ShedReason[] = limits.map((l) => l.reason);

/** A limit passed: which, by how much. */
export interface Overload {
  readonly reason: ShedReason;
  readonly flag: string;
  readonly observed: number;
  readonly max: number;
  readonly unit: string;
}

/**
 * Load shedding on the process's own pressure, like @fastify/under-pressure: every `sampleMs` it
 * samples the longest loop delay, the loop's utilisation, the heap and the RSS; while one is past
 * its limit, new work is refused with 503 and Retry-After (probes and static files still answer).
 * A loop blocked right now is seen at once, without waiting for a sample: the monitor's next tick
 * is overdue. It also says whether the server is ready (not draining, not overloaded).
 */
export class Pressure {
  readonly #limits: PressureLimits;
  readonly #monitor: LoopMonitor;
  readonly #sampleMs: number;
  readonly #on: boolean;
  readonly #shed = new Map<ShedReason, number>(shedReasons.map((r) => [r, 0]));
  #over: Overload | undefined;
  #draining = false;
  #sampleStart: number;
  #worstLateMs = 0;
  #elu: EventLoopUtilization = performance.eventLoopUtilization();

  constructor(limits: PressureLimits, monitor: LoopMonitor, sampleMs = 500) {
    const { maxLoopDelay, maxLoopUtilization, maxHeapMb, maxRssMb } = limits;
    this.#limits = { maxLoopDelay, maxLoopUtilization, maxHeapMb, maxRssMb };
    this.#monitor = monitor;
    this.#sampleMs = sampleMs;
    this.#on = Object.values(this.#limits).some((v) => v > 0);
    this.#sampleStart = performance.now();
    if (this.#on) monitor.onTick((lateMs, now) => this.#tick(lateMs, now));
  }

  #tick(lateMs: number, now: number): void {
    this.#worstLateMs = Math.max(this.#worstLateMs, lateMs);
    if (now - this.#sampleStart < this.#sampleMs) return;
    const elu = performance.eventLoopUtilization();
    const observed: Record<ShedReason, number> = {
      loop_delay: this.#worstLateMs,
      loop_utilization: performance.eventLoopUtilization(elu, this.#elu).utilization,
      heap: this.#limits.maxHeapMb > 0 ? process.memoryUsage().heapUsed / 2 ** 20 : 0,
      rss: this.#limits.maxRssMb > 0 ? process.memoryUsage.rss() / 2 ** 20 : 0,
    };
    this.#over = undefined;
    for (const { reason, key, flag, unit } of limits) {
      const max = this.#limits[key];
      if (max > 0 && observed[reason] > max) {
        this.#over = { reason, flag, observed: observed[reason], max, unit };
        break;
      }
    }
    this.#elu = elu;
    this.#sampleStart = now;
    this.#worstLateMs = 0;
  }

  /** The limit passed now, if any. */
  overload(): Overload | undefined {
    if (!this.#on) return undefined;
    const max = this.#limits.maxLoopDelay;
    const overdue = max > 0 ? this.#monitor.overdueMs() : 0;
    if (overdue > max) return { reason: 'loop_delay', flag: '--max-loop-delay', observed: overdue, max, unit: 'ms' };
    return this.#over;
  }

  /** The 503 for new work while the server is past a limit (counted by reason), or undefined to go on. */
  shed(): HttpError | undefined {
    if (!this.#on) return undefined;
    const over = this.overload();
    if (!over) return undefined;
    this.#shed.set(over.reason, this.#shed.get(over.reason)! + 1);
    const retry = String(Math.max(1, Math.ceil(this.#sampleMs / 1000)));
    const observed = Math.round(over.observed * 100) / 100;
    return new HttpError(
      503,
      `the server is overloaded: ${over.reason.replace('_', ' ')} ${observed}${over.unit} is past ` +
        `${over.flag} ${over.max}${over.unit}; retry shortly`,
      { headers: { 'retry-after': retry }, extra: { limit: over.flag, observed, max: over.max } },
    );
  }

  /** Requests shed so far, by the limit that was passed. */
  get shedCounts(): ReadonlyMap<ShedReason, number> {
    return this.#shed;
  }

  /** From now on the server is not ready: it is shutting down. */
  drain(): void {
    this.#draining = true;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** Why the server should get no new traffic now ('draining' or the limit passed), or undefined when ready. */
  notReady(): { reason: 'draining' } | { reason: 'overloaded'; overload: Overload } | undefined {
    if (this.#draining) return { reason: 'draining' };
    const overload = this.overload();
    return overload ? { reason: 'overloaded', overload } : undefined;
  }
}
