#!/usr/bin/env node
/**
 * How many runs a strategy's ping_p99_ratio needs before one bench invocation's figure can be
 * trusted to ±20%: one server (as the bench starts it), a warm-up, then RUNS of the bench's own
 * idle-then-loaded run (bench/http.ts measureRun), every ping kept. Then, for k runs pooled as
 * the bench pools them, 1000 draws of k runs out of RUNS with replacement (a bootstrap over whole
 * runs, which keeps a run's stalls together; seeded): the figure's median and p10–p90, how often
 * one draw lies within ±20% of the median, how often two draws agree within ±20% of each other
 * (two invocations of the bench), and how often it is at or under the pools' goal of 1.5.
 * The pooled ratio's noise comes from how many stalls fall in a run, so it shrinks with more
 * runs and not with a faster probe (a stall delays every ping in its window).
 *
 *   npm run build:ts && node scripts/how-many-runs.mjs [STRATEGY] [RUNS] [WARM_S]
 *   e.g. node scripts/how-many-runs.mjs cpp-pool 12 120   (the defaults)
 *   STRATEGY `floor`: the bench's floor (CPU-bound threads under SCHED_IDLE, no request); WARM_S is
 *   then ignored, since the floor gives the server no work to warm up on
 *
 * The runs all come from one server, so what differs between invocations (a fresh server, the
 * machine's state) is not in the draws: they are a lower bound on the figure's spread, not its width.
 * The warm-up stands in for the minutes of other strategies' loads before the bench measures
 * one: a fresh server's runs stall more often for its first minute or so under load (README,
 * "How far to trust"); with a 20 s warm-up the first half of 16 runs read worse than the rest.
 */
import { rng } from '#rng';

const dist = new URL('../dist/bench/', import.meta.url);
const { startOffloop, benchServerArgs } = await import(new URL('server.js', dist));
const { baseArgs, floorBackground, heavyRequest, measureRun, pooledRatios, settle } = await import(
  new URL('http.js', dist)
);
const { defaultPlacement, runLoad } = await import(new URL('harness.js', dist));
const { strategyTable, primaryRoute } = await import(new URL('strategies.js', dist));
const { profiles } = await import(new URL('profile.js', dist));
const { percentile } = await import(new URL('stats.js', dist));

const [name = 'cpp-pool', runsArg = '12', warmArg = '120'] = process.argv.slice(2);
const runs = Number(runsArg);
const warmS = Number(warmArg);
const goal = 1.5;
const named = strategyTable().filter((s) => primaryRoute(s));
const floor = name === 'floor';
const strategy = named.find((s) => s.name === name);
if (!strategy && !floor)
  throw new RangeError(
    `STRATEGY: no strategy ${JSON.stringify(name)}; one of ${named.map((s) => s.name).join(', ')}, or floor`,
  );
if (!Number.isInteger(runs) || runs < 2)
  throw new RangeError(`RUNS must be an integer of at least 2, got ${JSON.stringify(runsArg)}`);
if (!Number.isFinite(warmS) || warmS < 0)
  throw new RangeError(`WARM_S must be a number of seconds, 0 or more, got ${JSON.stringify(warmArg)}`);
const h = profiles.full.http;

const pooledRatio = (picked) => pooledRatios(picked)[0]; // as the bench pools them

const server = await startOffloop(benchServerArgs(baseArgs));
const measured = [];
try {
  await settle(server.url);
  let load = floorBackground();
  if (strategy) {
    const route = primaryRoute(strategy);
    const { method, query, body } = heavyRequest(route, h);
    load = { url: `${server.url}/${route}/${name}${query}`, method, ...(body === undefined ? {} : { body }) };
    if (warmS > 0) await runLoad(defaultPlacement, { ...load, connections: h.connections, durationS: warmS });
    await settle(server.url);
  }
  for (let i = 0; i < runs; i++) {
    const { samples, pingP99Ratio } = await measureRun(server, defaultPlacement, h, load);
    measured.push(samples);
    const slow = samples.ping.filter((ms) => ms > 1).length;
    console.log(
      `run ${i + 1}: p99 ÷ idle ${pingP99Ratio.toFixed(2)}, ${slow} of ${samples.ping.length} pings over 1 ms`,
    );
  }
} finally {
  await server.proc.stop();
}

const random = rng(1);
const draw = (k) => pooledRatio(Array.from({ length: k }, () => random.pick(measured)));
const share = (values, keep) => `${Math.round((100 * values.filter(keep).length) / values.length)}%`;
console.log(`\n${name}, ${runs} runs pooled: ${pooledRatio(measured).toFixed(2)}`);
for (const k of [1, 3, 5, 7, 9]) {
  const draws = Array.from({ length: 1000 }, () => draw(k)).sort((a, b) => a - b);
  const pairs = Array.from({ length: 1000 }, () => draw(k) / draw(k));
  const median = percentile(draws, 50);
  const range = `${percentile(draws, 10).toFixed(2)}–${percentile(draws, 90).toFixed(2)}`;
  console.log(
    `k=${k}: median ${median.toFixed(2)}, p10–p90 ${range}, ` +
      `within ±20% of the median ${share(draws, (r) => Math.abs(r / median - 1) <= 0.2)}, ` +
      `two within ±20% of each other ${share(pairs, (q) => Math.abs(q - 1) <= 0.2)}, ` +
      `≤ ${goal}: ${share(draws, (r) => r <= goal)}`,
  );
}
