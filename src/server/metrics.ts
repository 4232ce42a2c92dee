import { createHistogram, type EventLoopUtilization, performance, type RecordableHistogram } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { PoolStats } from '../engines/addon.js';
import type { Gate } from './admission.js';
import type { PoolName, Strategy, StrategyName } from './strategy.js';

export interface MetricsSources {
  /** The admission gate of each pool off the loop. */
  gates: ReadonlyMap<PoolName, Gate>;
  strategies: ReadonlyMap<StrategyName, Strategy>;
  /** Threads behind each pool, as they really are. */
  pools: () => Record<string, number>;
  /** The addons' dedicated pools, whose scheduling their `stats()` report. */
  native?: readonly { readonly name: string; stats(): PoolStats }[];
  /** Bytes of request bodies held now, all requests together. */
  bodyBytes?: () => number;
}

/**
 * The server's Prometheus metrics. Event-loop delay and utilisation are measured over the
 * interval since the previous scrape, so each scrape says how the loop has been doing lately.
 */
export function createMetrics({ gates, strategies, pools, native = [], bodyBytes = () => 0 }: MetricsSources) {
  /** Each offloaded strategy with the gate of its pool. */
  const gated = () =>
    [...strategies.values()].flatMap((s) => {
      const gate = s.pool === 'loop' ? undefined : gates.get(s.pool);
      return gate ? [[s.name, gate] as const] : [];
    });
  const registry = new Registry();
  const registers = [registry];

  const requests = new Counter({
    name: 'offloop_http_requests_total',
    help: 'HTTP requests answered, by route, strategy and status (status "aborted": the client left first)',
    labelNames: ['route', 'strategy', 'status'] as const,
    registers,
  });
  const duration = new Histogram({
    name: 'offloop_http_request_duration_seconds',
    help: 'Time from a request arriving to its response, by route and strategy',
    labelNames: ['route', 'strategy'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
  });

  const delay = loopDelayRecorder(5);
  new Gauge({
    name: 'offloop_event_loop_delay_seconds',
    help: 'Event-loop delay since the previous scrape (how late a 5 ms timer runs), by quantile',
    labelNames: ['quantile'] as const,
    registers,
    collect() {
      const seconds = (ns: number) => (Number.isFinite(ns) ? ns / 1e9 : 0);
      this.set({ quantile: '0.5' }, seconds(delay.percentile(50)));
      this.set({ quantile: '0.99' }, seconds(delay.percentile(99)));
      this.set({ quantile: '1' }, seconds(delay.max));
      delay.reset();
    },
  });

  let lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  new Gauge({
    name: 'offloop_event_loop_utilization',
    help: 'Share of time the event loop was busy since the previous scrape (0..1)',
    registers,
    collect() {
      const now = performance.eventLoopUtilization();
      this.set(performance.eventLoopUtilization(now, lastElu).utilization);
      lastElu = now;
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
      "and the addons' dedicated pools",
    labelNames: ['pool'] as const,
    registers,
    collect() {
      for (const [pool, threads] of Object.entries(pools())) this.set({ pool }, threads);
    },
  });
  new Gauge({
    name: 'offloop_pool_info',
    help: "The addons' dedicated pools' scheduling, as their threads run it: policy (idle, batch, normal) and nice",
    labelNames: ['pool', 'policy', 'nice'] as const,
    registers,
    collect() {
      this.reset(); // a reconfigured pool's old labels must not linger
      for (const pool of native) {
        const { policy, nice } = pool.stats();
        if (policy !== null) this.set({ pool: pool.name, policy, nice: String(nice) }, 1);
      }
    },
  });
  new Gauge({
    name: 'offloop_request_body_bytes',
    help: 'Bytes of request bodies held now, all requests together (bounded by --max-body-memory)',
    registers,
    collect() {
      this.set(bodyBytes());
    },
  });
  new Gauge({
    name: 'offloop_resident_memory_bytes',
    help: 'Resident set size of this process',
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });

  return {
    registry,
    /** Records one finished request. */
    observe(route: string, strategy: string, status: number | 'aborted', seconds: number) {
      requests.inc({ route, strategy, status: String(status) });
      duration.observe({ route, strategy }, seconds);
    },
    close() {
      delay.stop();
    },
  };
}
export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Event-loop delay: how late a timer that asks to run every `everyMs` actually runs, recorded
 * in ns. Our own timer rather than perf_hooks.monitorEventLoopDelay, because resetting that
 * histogram also forgets when its timer last ran, so a block that begins right after a scrape
 * is never recorded; here the reset touches only the samples, never the clock.
 */
function loopDelayRecorder(everyMs: number): RecordableHistogram & { stop(): void } {
  const histogram = createHistogram();
  let expected = performance.now() + everyMs;
  const timer = setInterval(() => {
    const now = performance.now();
    histogram.record(Math.max(1, Math.round((now - expected) * 1e6)));
    expected = now + everyMs;
  }, everyMs).unref();
  return Object.assign(histogram, { stop: () => clearInterval(timer) });
}
