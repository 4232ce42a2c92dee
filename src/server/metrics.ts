import { createHistogram, type EventLoopUtilization, performance, type RecordableHistogram } from 'node:perf_hooks';
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { PoolStats } from '../engines/addon.js';
import type { Gate } from './admission.js';
import { joinClusterMetrics } from './cluster-metrics.js';
import type { LoopMonitor } from './loop-monitor.js';
import type { Pressure } from './pressure.js';
import { RequestMetrics } from './request-metrics.js';
import type { PoolName, Strategy, StrategyName } from './strategy.js';

export interface MetricsSources {
  /** The admission gate of each pool off the loop. */
  gates: ReadonlyMap<PoolName, Gate>;
  strategies: ReadonlyMap<StrategyName, Strategy>;
  /** Threads behind each pool, as they really are. */
  pools: () => Record<string, number>;
  /** The worker pool and the addons' dedicated pools, whose scheduling their `stats()` report. */
  scheduled?: readonly { readonly name: string; stats(): PoolStats }[];
  /** Bytes of request bodies held now, all requests together. */
  bodyBytes?: () => number;
  /** The loop's delay, as one timer sees it. */
  monitor: LoopMonitor;
  /** Load shedding: what it has shed, and whether the server is ready. */
  pressure: Pressure;
  /** One of several server processes under a supervisor (--processes N): /metrics merges them all. */
  clustered?: boolean;
}

/** The event loop over one stretch of time. */
export interface LoopFigures {
  delayP50Ms: number;
  delayP99Ms: number;
  delayMaxMs: number;
  /** Share of the stretch the loop was busy (0..1). */
  utilization: number;
}

/** One whole window of the feed: `seq` counts windows since the process started. */
export interface FeedWindow extends LoopFigures {
  seq: number;
}

/** What the live page shows, from GET /stats.json. */
export interface Stats {
  pid: number;
  /** The loop over its last whole seconds, oldest first: a reader takes those past the last `seq` it saw. */
  recent: FeedWindow[];
  /** Requests running now, and waiting for a thread, by offloaded strategy. */
  inflight: Record<string, number>;
  queued: Record<string, number>;
  ready: boolean;
}

/** How long each window of the live page's feed covers, and how many it keeps. */
const feedWindowMs = 1000;
const feedWindows = 10;

/**
 * The server's metrics: Prometheus text at /metrics and the live page's feed at /stats.json, from
 * the same sources. Prometheus's loop figures cover the time since its previous scrape; the feed's
 * cover the last whole second, so reading the feed never moves what Prometheus sees.
 */
export function createMetrics(sources: MetricsSources) {
  const { gates, strategies, pools, scheduled = [], bodyBytes = () => 0, monitor, pressure, clustered } = sources;
  const pid = String(process.pid);
  /** Each offloaded strategy with the gate of its pool. */
  const gated = () =>
    [...strategies.values()].flatMap((s) => {
      const gate = s.pool === 'loop' ? undefined : gates.get(s.pool);
      return gate ? [[s.name, gate] as const] : [];
    });
  const registry = new Registry();
  const registers = [registry];

  // process_* and nodejs_*, per process (pid), as prom-client names them. Its event-loop lag is
  // left out: resetting its perf_hooks histogram on each scrape also forgets when that timer last
  // ran, so a block starting within 10 ms of a scrape is never seen; ours below sees it.
  collectDefaultMetrics({ register: registry, labels: { pid } });
  for (const metric of registry.getMetricsAsArray()) {
    if (metric.name.startsWith('nodejs_eventloop_lag')) registry.removeSingleMetric(metric.name);
  }

  const requests = new RequestMetrics();
  requests.register(registry);

  const scrapeWindow = loopWindow(monitor);
  // A scrape collects the metrics in the order they were registered: the first loop gauge reads
  // (and restarts) the window, the others report the same window.
  let figures: LoopFigures = { delayP50Ms: 0, delayP99Ms: 0, delayMaxMs: 0, utilization: 0 };
  const loopGauges = [
    [
      'offloop_event_loop_delay_p50_seconds',
      'Event-loop delay since the previous scrape, median',
      (f: LoopFigures) => f.delayP50Ms / 1000,
    ],
    [
      'offloop_event_loop_delay_p99_seconds',
      'Event-loop delay since the previous scrape, 99th percentile',
      (f: LoopFigures) => f.delayP99Ms / 1000,
    ],
    [
      'offloop_event_loop_delay_max_seconds',
      'Event-loop delay since the previous scrape, longest',
      (f: LoopFigures) => f.delayMaxMs / 1000,
    ],
    [
      'offloop_event_loop_utilization_ratio',
      'Share of the time since the previous scrape the event loop was busy (0..1)',
      (f: LoopFigures) => f.utilization,
    ],
  ] as const;
  for (const [name, help, read] of loopGauges) {
    new Gauge({
      name,
      help: `${help}, by process${name.includes('delay') ? ' (how late a 5 ms timer ran)' : ''}`,
      labelNames: ['pid'] as const,
      registers,
      collect() {
        if (name === loopGauges[0][0]) figures = scrapeWindow.read();
        this.set({ pid }, read(figures));
      },
    });
  }
  new Gauge({
    name: 'offloop_event_loop_active_seconds_total',
    help: 'Time the event loop has been busy since the process started (its rate is the utilisation), by process',
    labelNames: ['pid'] as const,
    registers,
    collect() {
      this.set({ pid }, performance.eventLoopUtilization().active / 1000);
    },
  });

  new Gauge({
    name: 'offloop_inflight_requests',
    help: 'Requests running now, by offloaded strategy',
    labelNames: ['strategy'] as const,
    registers,
    collect() {
      for (const [strategy, gate] of gated()) this.set({ strategy }, gate.inFlightOf(strategy));
    },
  });
  new Gauge({
    name: 'offloop_queued_requests',
    help: 'Requests admitted and waiting for a thread, by offloaded strategy',
    labelNames: ['strategy'] as const,
    registers,
    collect() {
      for (const [strategy, gate] of gated()) this.set({ strategy }, gate.queuedOf(strategy));
    },
  });
  new Gauge({
    name: 'offloop_pool_admitted_requests',
    help: "Requests each pool's gate has admitted and not yet released (running or waiting for its own queue), by pool",
    labelNames: ['pool'] as const,
    registers,
    collect() {
      for (const [pool, gate] of gates) this.set({ pool }, gate.inFlight);
    },
  });
  new Gauge({
    name: 'offloop_pool_threads',
    help:
      'Threads in each pool: libuv (UV_THREADPOOL_SIZE as libuv applied it), workers (piscina), ' +
      "and the addons' dedicated pools; all processes together",
    labelNames: ['pool'] as const,
    registers,
    collect() {
      for (const [pool, threads] of Object.entries(pools())) this.set({ pool }, threads);
    },
  });
  new Gauge({
    name: 'offloop_pool_info',
    help: "The worker and native pools' scheduling, as their threads run it: policy (idle, batch, normal) and nice",
    labelNames: ['pool', 'policy', 'nice'] as const,
    registers,
    aggregator: 'first',
    collect() {
      this.reset(); // a reconfigured pool's old labels must not linger
      for (const pool of scheduled) {
        const { policy, nice } = pool.stats();
        if (policy !== null) this.set({ pool: pool.name, policy, nice: String(nice) }, 1);
      }
    },
  });
  new Gauge({
    name: 'offloop_request_body_bytes',
    help: 'Bytes of request bodies held now, all requests together (bounded by --max-body-memory per process)',
    registers,
    collect() {
      this.set(bodyBytes());
    },
  });
  new Counter({
    name: 'offloop_shed_requests_total',
    help: 'Requests refused with 503 because the process was past a pressure limit, by the limit (--max-loop-delay …)',
    labelNames: ['reason'] as const,
    registers,
    collect() {
      this.reset();
      for (const [reason, n] of pressure.shedCounts) this.inc({ reason }, n);
    },
  });
  new Gauge({
    name: 'offloop_ready',
    help: 'Whether the process takes new work (1), or is draining or past a pressure limit (0), by process',
    labelNames: ['pid'] as const,
    registers,
    collect() {
      this.set({ pid }, pressure.notReady() ? 0 : 1);
    },
  });

  const feedWindow = loopWindow(monitor, feedWindowMs);
  const byStrategy = (count: (gate: Gate, strategy: string) => number) =>
    Object.fromEntries(gated().map(([strategy, gate]) => [strategy, count(gate, strategy)]));

  const cluster = clustered ? joinClusterMetrics(registry) : undefined;

  return {
    registry,
    /** Prometheus text: every server process's figures, merged, under --processes N. */
    text: (): Promise<string> => cluster?.text() ?? registry.metrics(),
    /** Records one finished request (`strategy` '': it never had one). */
    observe(route: string, strategy: string, status: number | 'aborted', seconds: number) {
      requests.observe(route, strategy, status, seconds);
    },
    /** The live page's figures; reading them resets nothing. */
    stats(): Stats {
      return {
        pid: process.pid,
        recent: feedWindow.recent(),
        inflight: byStrategy((gate, s) => gate.inFlightOf(s)),
        queued: byStrategy((gate, s) => gate.queuedOf(s)),
        ready: !pressure.notReady(),
      };
    },
    close() {
      cluster?.close();
    },
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

/**
 * The loop's delay and utilisation over a window of its own, from the monitor's ticks. `read()`
 * returns the window so far and starts a new one. With `everyMs`, the window also turns over by
 * itself every `everyMs`, and `recent()` returns the last `keep` whole ones, touching nothing.
 */
function loopWindow(monitor: LoopMonitor, everyMs = 0, keep = feedWindows) {
  const histogram: RecordableHistogram = createHistogram();
  let elu = performance.eventLoopUtilization();
  let started = performance.now();
  let seq = 0;
  const whole: FeedWindow[] = [];
  const read = (): LoopFigures => {
    const ms = (ns: number) => (Number.isFinite(ns) && histogram.count > 0 ? ns / 1e6 : 0);
    const now: EventLoopUtilization = performance.eventLoopUtilization();
    const figures = {
      delayP50Ms: ms(histogram.percentile(50)),
      delayP99Ms: ms(histogram.percentile(99)),
      delayMaxMs: ms(histogram.max),
      utilization: performance.eventLoopUtilization(now, elu).utilization,
    };
    histogram.reset();
    elu = now;
    return figures;
  };
  monitor.onTick((lateMs, now) => {
    // Recorded in ns, at least 1 (the histogram takes no 0): a tick on time counts as 1 ns late.
    histogram.record(Math.max(1, Math.round(lateMs * 1e6)));
    if (everyMs > 0 && now - started >= everyMs) {
      whole.push({ seq: ++seq, ...read() });
      if (whole.length > keep) whole.shift();
      started = now;
    }
  });
  return { read, recent: () => [...whole] };
}
