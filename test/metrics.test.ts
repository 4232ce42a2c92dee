import test from 'ava';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { durationBuckets, RequestMetrics } from '../src/server/request-metrics.js';
import { rng } from './helpers/random.js';

/** Every sample of Prometheus text as `name{sorted labels}` → value. */
function parse(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample: ${line}`);
    const labels = [...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => `${m[1]}=${m[2]}`).sort();
    out.set(`${match[1]}{${labels.join(',')}}`, Number(match[3]));
  }
  return out;
}

const routes = ['/ping', '/primes/:strategy', '/*'];
const strategies = ['', 'cpp', 'worker'];
const statuses: (number | 'aborted')[] = [200, 404, 503, 'aborted'];

/** Random requests: [route, strategy, status, seconds]. */
function requests(seed: number, n: number) {
  const random = rng(seed);
  // Durations on the bucket bounds too, where an off-by-one would show.
  const seconds = () => (random.next() < 0.3 ? random.pick(durationBuckets) : random.next() * 40);
  return Array.from(
    { length: n },
    () => [random.pick(routes), random.pick(strategies), random.pick(statuses), seconds()] as const,
  );
}

/** prom-client's own Counter and Histogram, fed the same requests: the oracle. */
function oracle(list: ReturnType<typeof requests>): Registry {
  const registry = new Registry();
  const registers = [registry];
  const counter = new Counter({
    name: 'offloop_http_requests_total',
    help: 'x',
    labelNames: ['route', 'strategy', 'status'],
    registers,
  });
  const histogram = new Histogram({
    name: 'offloop_http_request_duration_seconds',
    help: 'x',
    labelNames: ['route', 'strategy'],
    buckets: durationBuckets,
    registers,
  });
  for (const [route, strategy, status, seconds] of list) {
    const labels = strategy === '' ? { route } : { route, strategy };
    counter.inc({ ...labels, status: String(status) });
    histogram.observe(labels, seconds);
  }
  return registry;
}

function ours(list: ReturnType<typeof requests>): Registry {
  const registry = new Registry();
  const metrics = new RequestMetrics();
  metrics.register(registry);
  for (const [route, strategy, status, seconds] of list) metrics.observe(route, strategy, status, seconds);
  return registry;
}

test("RequestMetrics reports what prom-client's Counter and Histogram report for the same requests", async (t) => {
  for (const seed of [1, 2, 3]) {
    const list = requests(seed, 2000);
    const expected = parse(await oracle(list).metrics());
    const actual = parse(await ours(list).metrics());
    t.is(actual.size, expected.size);
    for (const [key, value] of expected) {
      const got = actual.get(key);
      // Sums are added in the same order: equal but for the last bits of a float.
      if (key.includes('_sum')) t.true(Math.abs(got! - value) <= 1e-9 * Math.abs(value), key);
      else t.is(got, value, key);
    }
  }
});

test('a request without a strategy has no strategy label, not a placeholder', async (t) => {
  const text = await ours([['/*', '', 404, 0]]).metrics();
  t.regex(text, /^offloop_http_requests_total\{route="\/\*",status="404"\} 1$/m);
  t.notRegex(text, /strategy=/);
});

test("processes' registries merge with AggregatorRegistry into what one process would report", async (t) => {
  const a = requests(10, 500);
  const b = requests(11, 700);
  const json = await Promise.all([ours(a), ours(b)].map((r) => r.getMetricsAsJSON()));
  // Across a process boundary the figures travel as JSON (the IPC channel's serialisation).
  const merged = AggregatorRegistry.aggregate(JSON.parse(JSON.stringify(json)) as object[]);
  const expected = parse(await ours([...a, ...b]).metrics());
  const actual = parse(await merged.metrics());
  t.is(actual.size, expected.size);
  for (const [key, value] of expected) t.true(Math.abs(actual.get(key)! - value) <= 1e-9 * Math.max(1, value), key);
});
