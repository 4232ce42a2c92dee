import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { sep } from 'node:path';
import test from 'ava';
import { defaultOut, outputFolder, parseCli } from '../bench/cli.js';
import { compareSummaries, renderChanges } from '../bench/compare.js';
import { summarizeRuns } from '../bench/http.js';
import { headlineRatio, type LoadRun } from '../bench/results.js';
import { parseWrk } from '../bench/routing.js';
import { repeated } from '../bench/stats.js';
import { flatten, type Summary } from '../bench/summary.js';

// The bench's bookkeeping, without timing anything: fixtures in, figures out.

test('repeated figures: the median and the min–max, failed runs (NaN) left out', (t) => {
  t.deepEqual(repeated([3, 1, 2]), { median: 2, min: 1, max: 3 });
  t.deepEqual(repeated([4, 1, 3, 2]), { median: 2.5, min: 1, max: 4 });
  t.deepEqual(repeated([5, NaN]), { median: 5, min: 5, max: 5 });
  const none = repeated([NaN]);
  t.true(Number.isNaN(none.median) && Number.isNaN(none.min) && Number.isNaN(none.max));
});

test('a load measured several times: the ratios summarised, the tables show the median run', (t) => {
  const run = (ratio: number, reqPerSec: number): LoadRun => {
    const ping = { n: 1000, mean: 1, p50: 1, p99: ratio, p999: 2 * ratio, max: 3 * ratio, lost: 0 };
    const idle = { ...ping, p99: 1, p999: 1 };
    const load = { reqPerSec, ok: 1, non2xx: 0, errors: 0, latency: { p50: 1, p99: 1, max: 1 } };
    const cpu = { wallS: 1, harnessS: 0.1, childS: 2 };
    const loopWait = { idle: { msPerS: 1, usPerRun: 5 }, loaded: { msPerS: 50, usPerRun: 100 * ratio } };
    return {
      idle,
      load,
      ping,
      pingP99Ratio: ratio,
      pingP999Ratio: 2 * ratio,
      cpu,
      loopWait,
      nice: { probe: -10, load: 19 },
    };
  };
  const rows = summarizeRuns([run(3, 90), run(1.2, 100), run(1.5, 80)]);
  t.deepEqual(rows.pingP99Ratio, { median: 1.5, min: 1.2, max: 3 });
  t.deepEqual(rows.pingP999Ratio, { median: 3, min: 2.4, max: 6 });
  t.deepEqual(rows.reqPerSec, { median: 90, min: 80, max: 100 });
  t.deepEqual(rows.loopWaitUs, { median: 150, min: 120, max: 300 });
  t.is(rows.load.reqPerSec, 80, 'the run whose p99 ratio is the median');
  t.is(rows.runs.length, 3);
  t.is(rows.pooled, undefined, 'no samples, no pooled figure');
  t.is(headlineRatio(rows, 'p99'), 1.5, 'the runs’ median stands in');

  // With the runs' samples, the published figure is the p99 of all their pings together ÷ the
  // p99 of all their idle pings, which no single run's ratio need equal.
  const samples = (base: number, slow: number) =>
    Array.from({ length: 1000 }, (_, i) => base + (i % 100 < slow ? 10 * base : (i % 7) / 100));
  const runSamples = [
    { idle: samples(0.2, 0), ping: samples(0.3, 3) },
    { idle: samples(0.25, 1), ping: samples(0.3, 0) },
    { idle: samples(0.2, 0), ping: samples(0.4, 0) },
  ];
  const sorted = (xs: number[]) => xs.sort((a, b) => a - b);
  const p = (xs: number[], q: number) => sorted(xs)[Math.ceil(q * xs.length) - 1]!;
  const allIdle = runSamples.flatMap((r) => r.idle);
  const allPing = runSamples.flatMap((r) => r.ping);
  const pooled = summarizeRuns([run(3, 90), run(1.2, 100), run(1.5, 80)], runSamples);
  t.is(pooled.pooled?.p99Ratio, p(allPing, 0.99) / p(allIdle, 0.99));
  t.is(pooled.pooled?.p999Ratio, p(allPing, 0.999) / p(allIdle, 0.999));
  t.is(pooled.ping.n, 3000);
  t.is(pooled.idle.p99, p(allIdle, 0.99));
  t.is(headlineRatio(pooled, 'p99'), pooled.pooled!.p99Ratio);
  t.deepEqual(pooled.pingP99Ratio, rows.pingP99Ratio, 'the runs’ own ratios stay in the rows');

  // How far the pooled figure could move: the runs resampled with replacement. Only the first
  // run has more than 1% slow pings, so draws without it read low and draws with it high.
  const interval = pooled.pooled!.p99Interval!;
  t.true(interval[0] < interval[1], `runs that differ give a range: ${interval.join('–')}`);
  t.true(interval[0] <= pooled.pooled!.p99Ratio && pooled.pooled!.p99Ratio <= interval[1], interval.join('–'));
  t.deepEqual(summarizeRuns(pooled.runs, runSamples).pooled, pooled.pooled, 'seeded: the same runs, the same range');
  const same = summarizeRuns(pooled.runs, [runSamples[0]!, runSamples[0]!, runSamples[0]!]).pooled!;
  t.deepEqual(same.p99Interval, [same.p99Ratio, same.p99Ratio], 'identical runs: no spread to sample');
  t.deepEqual(same.p999Interval, [same.p999Ratio, same.p999Ratio]);
  t.is(summarizeRuns([run(2, 90)], [runSamples[0]!]).pooled?.p99Interval, undefined, 'one run: nothing to resample');
});

const before: Summary = {
  ping_p99_ratio: { cpp: 9.5, 'cpp-pool': 1.4, worker: 6 },
  routing_overhead: 0.4,
  scaling: { cpp: 1.86 },
  spread: { 'ping_p99_ratio.cpp': [8, 11], 'ping_p99_ratio.cpp-pool': [1.2, 1.6], 'ping_p99_ratio.worker': [5, 7] },
};
const after: Summary = {
  ping_p99_ratio: { cpp: 2.5, 'cpp-pool': 1.7, worker: 6.5 },
  routing_overhead: 0.85,
  scaling: { cpp: 1.9 },
  speedup: { primes: { cpp: 5.6 } },
  spread: { 'ping_p99_ratio.cpp': [2.1, 3], 'ping_p99_ratio.cpp-pool': [1.5, 2.2], 'ping_p99_ratio.worker': [6, 7] },
};

test('the comparison flags a change only beyond the spread', (t) => {
  const changes = new Map(compareSummaries(before, after).map((c) => [c.key, c]));
  t.true(changes.get('ping_p99_ratio.cpp')?.flagged, 'ranges 8–11 and 2.1–3 are apart');
  t.false(changes.get('ping_p99_ratio.cpp-pool')?.flagged, 'ranges 1.2–1.6 and 1.5–2.2 overlap');
  t.false(changes.get('ping_p99_ratio.worker')?.flagged);
  t.true(changes.get('routing_overhead')?.flagged, 'measured once: 0.4 → 0.85 is past ±20%');
  t.false(changes.get('scaling.cpp')?.flagged, 'measured once: 1.86 → 1.9 is within ±20%');
  t.is(changes.get('routing_overhead')?.factor, 0.85 / 0.4);
  t.deepEqual(changes.get('ping_p99_ratio.cpp')?.spreadBefore, [8, 11]);
  t.false(changes.has('speedup.primes.cpp'), 'a figure the previous run did not have is not a change');
  t.false(
    [...changes.keys()].some((k) => k.startsWith('spread')),
    'the spread is not a figure',
  );
});

test("against a run without spreads, a value inside the other run's range is no change", (t) => {
  const once: Summary = { ping_p99_ratio: { cpp: 9.5, rust: 9.9 } };
  const repeatedRun: Summary = {
    ping_p99_ratio: { cpp: 20, rust: 2.5 },
    spread: { 'ping_p99_ratio.cpp': [5, 30], 'ping_p99_ratio.rust': [2, 3] },
  };
  const changes = new Map(compareSummaries(once, repeatedRun).map((c) => [c.key, c.flagged]));
  t.false(changes.get('ping_p99_ratio.cpp'), '9.5 lies within 5–30');
  t.true(changes.get('ping_p99_ratio.rust'), '9.9 lies outside 2–3');
});

test('a figure not measured (NaN) is shown, never flagged', (t) => {
  const [change] = compareSummaries({ routing_overhead: 0.4 }, { routing_overhead: NaN });
  t.false(change?.flagged);
  t.regex(renderChanges([change!])[0]!, /routing_overhead: 0\.4 → —/);
});

test('the printed change names the figure, both values with their spreads, and marks what is beyond', (t) => {
  const lines = renderChanges(compareSummaries(before, after));
  t.true(lines.includes('! ping_p99_ratio.cpp: 9.5 (8–11) → 2.5 (2.1–3)  ×0.263'), lines.join('\n'));
  t.true(lines.includes('  scaling.cpp: 1.86 → 1.9  ×1.02'), lines.join('\n'));
});

test('flatten leaves the spread out of the figures', (t) => {
  t.deepEqual(
    flatten(after).map(([k]) => k),
    [
      'ping_p99_ratio.cpp',
      'ping_p99_ratio.cpp-pool',
      'ping_p99_ratio.worker',
      'routing_overhead',
      'scaling.cpp',
      'speedup.primes.cpp',
    ],
  );
});

test('--quick writes to a fresh scratch folder; only a full run defaults to bench/results', async (t) => {
  const quick = parseCli(['--quick']);
  const folders = [await outputFolder(quick), await outputFolder(quick)];
  t.teardown(() => Promise.all(folders.map((f) => rm(f, { recursive: true, force: true }))));
  t.true(folders[0]!.startsWith(tmpdir() + sep), folders[0]);
  t.not(folders[0], folders[1], 'each quick run gets its own folder');
  t.is(await outputFolder(parseCli([])), defaultOut);
  t.is(await outputFolder(parseCli(['--quick', '--out', '/x/y'])), '/x/y');
  t.is(parseCli(['http']).placement.name, 'priority');
  t.is(parseCli(['--harness', 'pinned']).placement.name, 'pinned');
  t.throws(() => parseCli(['--harness', 'nowhere']), { message: /unknown --harness "nowhere"/ });
});

test("wrk's summary parsed: requests, non-2xx, socket errors, rate", (t) => {
  const text = [
    'Running 3s test @ http://127.0.0.1:3000/ping',
    '  1 threads and 32 connections',
    '  Thread Stats   Avg      Stdev     Max   +/- Stdev',
    '    Latency   180.25us   40.12us   2.10ms   90.00%',
    '  216789 requests in 3.00s, 25.12MB read',
    '  Socket errors: connect 0, read 2, write 0, timeout 1',
    '  Non-2xx or 3xx responses: 5',
    'Requests/sec:  72263.00',
    'Transfer/sec:      8.37MB',
  ].join('\n');
  t.deepEqual(parseWrk(text), { requests: 216789, non2xx: 5, errors: 3, reqPerSec: 72263 });
  t.deepEqual(parseWrk('  10 requests in 1.00s, 1KB read\nRequests/sec: 10.00\n'), {
    requests: 10,
    non2xx: 0,
    errors: 0,
    reqPerSec: 10,
  });
});
