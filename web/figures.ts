// What the page measures, in one record. It is also published as window.offloop, so the browser
// test reads the very figures the page draws.

/** One row of GET /strategies. */
export interface StrategyInfo {
  name: string;
  where: string;
  blocksLoop: boolean;
  pool: string;
  kernels: string[];
}

/** One /ping probe: sent at `t` (ms, performance.now()), answered `ms` later. */
export interface Ping {
  t: number;
  ms: number;
  ok: boolean;
}

/** One read of /stats.json; loop figures cover the whole seconds since the previous read. */
export interface Scrape {
  t: number;
  p99Ms: number;
  maxMs: number;
  elu: number;
  inflight: Record<string, number>;
  queued: Record<string, number>;
}

/** A burst of requests, fired from the controls or a seed button. */
export interface Burst {
  id: number;
  label: string;
  strategy: string;
  blocksLoop: boolean;
  requests: number;
  concurrency: number;
  start: number;
  /** null while requests are still out. */
  end: number | null;
  /** How many answers per HTTP status ("error" for a network failure). */
  statuses: Record<string, number>;
}

export interface Figures {
  ready: boolean;
  strategies: StrategyInfo[];
  pings: Ping[];
  scrapes: Scrape[];
  bursts: Burst[];
  /** When the probe now out was sent; null between probes. */
  probeSentAt: number | null;
  /** The largest ping latency among probes out at any time during the burst (a probe still out counts its age). */
  maxPingDuring(burst: Burst): number;
}

declare global {
  interface Window {
    offloop: Figures;
  }
}

/** Samples kept per list: hours of probes, bounded. */
const KEEP = 50_000;

export const figures: Figures = {
  ready: false,
  strategies: [],
  pings: [],
  scrapes: [],
  bursts: [],
  probeSentAt: null,
  maxPingDuring(burst) {
    const end = burst.end ?? performance.now();
    const out = this.probeSentAt;
    let max = out !== null && out <= end ? performance.now() - out : 0;
    for (const p of this.pings) if (p.t <= end && p.t + p.ms >= burst.start) max = Math.max(max, p.ms);
    return max;
  },
};
window.offloop = figures;

/** Appends to a list of samples, dropping the oldest past KEEP. */
export function record<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > KEEP) list.splice(0, list.length - KEEP);
}
