import type { Metric, Registry } from 'prom-client';

/** Upper bounds (seconds) of the request-duration histogram's buckets. */
export const durationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The labels of a request's series: no strategy label on requests that never had one (404, 405, shed …). */
type Labels = Record<string, string>;

/** One (route, strategy): its duration histogram, and a count per status. */
interface Series {
  readonly labels: Labels;
  /** Observations per bucket (not cumulative), the last one past every bound. */
  readonly buckets: Float64Array;
  count: number;
  sum: number;
  readonly byStatus: Map<number | string, { readonly labels: Labels; count: number }>;
}

/** A metric as prom-client's Registry and AggregatorRegistry read it: what `get()` returns. */
interface Exported {
  name: string;
  help: string;
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: { labels: Labels; value: number; metricName?: string }[];
}

/**
 * The per-request counter and histogram, kept in plain numbers found through nested Maps keyed
 * by the strings a request already holds: `observe` hashes no label object and allocates nothing
 * once a series exists. prom-client's own `inc`/`observe` validate and hash the labels on every
 * call; the formatting into its metrics happens here only when a scrape asks.
 */
export class RequestMetrics {
  readonly #routes = new Map<string, Map<string, Series>>();

  /** Records one finished request; `strategy` '' = the request never had one. */
  observe(route: string, strategy: string, status: number | string, seconds: number): void {
    let strategies = this.#routes.get(route);
    if (strategies === undefined) {
      strategies = new Map();
      this.#routes.set(route, strategies);
    }
    let series = strategies.get(strategy);
    if (series === undefined) {
      series = newSeries(route, strategy);
      strategies.set(strategy, series);
    }
    let byStatus = series.byStatus.get(status);
    if (byStatus === undefined) {
      byStatus = { labels: { ...series.labels, status: String(status) }, count: 0 };
      series.byStatus.set(status, byStatus);
    }
    byStatus.count++;
    let bucket = 0;
    while (bucket < durationBuckets.length && seconds > durationBuckets[bucket]!) bucket++;
    series.buckets[bucket]!++;
    series.count++;
    series.sum += seconds;
  }

  /** Registers the two metrics on `registry`. */
  register(registry: Registry): void {
    registry.registerMetric(this.#metric(() => this.#counter()));
    registry.registerMetric(this.#metric(() => this.#histogram()));
  }

  #metric(read: () => Exported): Metric {
    const first = read();
    // What prom-client's Registry calls on a metric: get() (text and JSON), reset(); its name, help, type.
    return { ...first, get: async () => read(), reset: () => this.#routes.clear() } as unknown as Metric;
  }

  #counter(): Exported {
    const values: Exported['values'] = [];
    for (const series of this.#all()) for (const s of series.byStatus.values()) values.push({ ...s, value: s.count });
    return {
      name: 'offloop_http_requests_total',
      help:
        'HTTP requests answered, by route, strategy and status (status "aborted": the client left first; ' +
        'no strategy label: the request never reached one, e.g. 404, 405, shed or refused while draining)',
      type: 'counter',
      aggregator: 'sum',
      values: values.map(({ labels, value }) => ({ labels, value })),
    };
  }

  #histogram(): Exported {
    const name = 'offloop_http_request_duration_seconds';
    const values: Exported['values'] = [];
    for (const series of this.#all()) {
      let cumulative = 0;
      durationBuckets.forEach((le, i) => {
        cumulative += series.buckets[i]!;
        values.push({ metricName: `${name}_bucket`, labels: { ...series.labels, le: String(le) }, value: cumulative });
      });
      values.push({ metricName: `${name}_bucket`, labels: { ...series.labels, le: '+Inf' }, value: series.count });
      values.push({ metricName: `${name}_sum`, labels: series.labels, value: series.sum });
      values.push({ metricName: `${name}_count`, labels: series.labels, value: series.count });
    }
    return {
      name,
      help: 'Time from a request arriving to its response, by route and strategy',
      type: 'histogram',
      aggregator: 'sum',
      values,
    };
  }

  *#all(): Iterable<Series> {
    for (const strategies of this.#routes.values()) yield* strategies.values();
  }
}

function newSeries(route: string, strategy: string): Series {
  const labels: Labels = strategy === '' ? { route } : { route, strategy };
  return { labels, buckets: new Float64Array(durationBuckets.length + 1), count: 0, sum: 0, byStatus: new Map() };
}
