import { availableParallelism } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { type Arg, kernelRoutes } from '../src/engines/kernels.js';
import { type CpuUse, cpuMeter, type LoopWait, loopWaitMeter } from './cpu.js';
import { harnessHelpers, type Placement, runLoad, startPingProbe, startSpinners } from './harness.js';
import type { LoadOptions } from './load.js';
import { describeMachine, endOfPart, libuvPoolSize } from './machine.js';
import type { Profile } from './profile.js';
import type { Step } from './progress.js';
import {
  type HeavyRow,
  type HttpResult,
  headlineRatio,
  type LoadFigures,
  type LoadRows,
  type LoadRun,
  type ProbeFigures,
  type SeedRow,
  type StarvationRow,
} from './results.js';
import { routingPlan } from './routing.js';
import { benchServerArgs, type OffloopProcess, startOffloop } from './server.js';
import { measureStarvation, starvationStrategies } from './starvation.js';
import { bootstrapRanges, fmt, percentile, ratio, repeated, summarize } from './stats.js';
import { primaryRoute, type StrategyInfo } from './strategies.js';

/**
 * The HTTP harness: offloop's server as its own process (`node dist/src/main.js --port 0`), a
 * heavy route driven by autocannon at a fixed concurrency while a probe pings /ping on its own
 * connection, each idle-then-loaded run repeated; then the seed routes, routing overhead against
 * a bare uWS server (bench/routing.ts), and libuv pool starvation. The probe and the load
 * generator run in processes of their own, placed by bench/harness.ts; every load figure
 * carries the CPU that each side used.
 */

// The loop strategies are measured unguarded (no loop budget, no shedding): showing what they cost is the point.
export const baseArgs = ['--host', '127.0.0.1', '--max-loop-share', '1', '--max-loop-ms', '3600000'];
export const heavyRoutes = ['primes', 'pbkdf2'] as const;
const seedPaths = ['/terrible-ping', '/good-ping', '/perfect-ping'] as const;

/** Every ping latency of one run, idle and loaded (kept in memory only: too many to write out). */
export interface RunSamples {
  idle: number[];
  ping: number[];
}

/** Latency figures of samples: the probe's summary, with what was lost added up. */
function pooledFigures(samples: number[][], runs: readonly ProbeFigures[]): ProbeFigures {
  return { ...summarize(samples.flat()), lost: runs.reduce((sum, r) => sum + r.lost, 0) };
}

/** p99 and p99.9 of the runs' loaded pings taken together ÷ the same of their idle pings. */
export function pooledRatios(runs: readonly RunSamples[]): [number, number] {
  const all = (pick: (r: RunSamples) => number[]) => Float64Array.from(runs.flatMap(pick)).sort();
  const [idle, ping] = [all((r) => r.idle), all((r) => r.ping)];
  return [ratio(percentile(ping, 99), percentile(idle, 99)), ratio(percentile(ping, 99.9), percentile(idle, 99.9))];
}

/**
 * The runs of one load, summarised: median and spread of the runs' ratios; with the runs'
 * samples, the pooled ratios and pooled ping figures (else the median run's) for the tables,
 * and how far the pooled ratios could move from sampling alone (bootstrapRanges).
 */
export function summarizeRuns(runs: readonly LoadRun[], samples?: readonly RunSamples[]): LoadRows {
  const p99 = repeated(runs.map((r) => r.pingP99Ratio));
  const byRatio = [...runs].sort((a, b) => a.pingP99Ratio - b.pingP99Ratio);
  const median = byRatio[(byRatio.length - 1) >> 1]!;
  const rows: LoadRows = {
    runs: [...runs],
    pingP99Ratio: p99,
    pingP999Ratio: repeated(runs.map((r) => r.pingP999Ratio)),
    reqPerSec: repeated(runs.map((r) => r.load.reqPerSec)),
    loopWaitUs: repeated(runs.map((r) => r.loopWait.loaded.usPerRun)),
    load: median.load,
    ping: median.ping,
    idle: median.idle,
    cpu: median.cpu,
  };
  if (samples?.length !== runs.length) return rows;
  const idle = pooledFigures(
    samples.map((s) => s.idle),
    runs.map((r) => r.idle),
  );
  const ping = pooledFigures(
    samples.map((s) => s.ping),
    runs.map((r) => r.ping),
  );
  return {
    ...rows,
    idle,
    ping,
    pooled: {
      p99Ratio: ratio(ping.p99, idle.p99),
      p999Ratio: ratio(ping.p999, idle.p999),
      ...(runs.length > 1 ? intervals(bootstrapRanges(samples, pooledRatios)) : {}),
    },
  };
}

const intervals = ([p99Interval, p999Interval]: Array<[number, number]>) => ({ p99Interval, p999Interval });

export interface Plan {
  steps: Step[];
  result(): HttpResult;
  cleanup(): Promise<void>;
}

/** In-flight plus queued requests over every strategy's gate, from the server's /metrics (labels or none). */
function busyRequests(metrics: string): number {
  let busy = 0;
  for (const line of metrics.split('\n')) {
    const match = /^offloop_(?:inflight|queued)_requests(?:\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (match) busy += Number(match[1]);
  }
  return busy;
}

/**
 * Waits until the server has finished the work the last load left behind (requests a blocked
 * loop had not read yet, jobs still queued), so it cannot leak into the next measurement.
 */
export async function settle(url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let quietInARow = 0;
  while (performance.now() < deadline) {
    const started = performance.now();
    const text = await (await fetch(`${url}/metrics`)).text();
    quietInARow = busyRequests(text) === 0 && performance.now() - started < 50 ? quietInARow + 1 : 0;
    if (quietInARow === 2) return;
    await delay(100);
  }
  throw new Error(`the server at ${url} was still busy after ${timeoutMs} ms`);
}

const describeWait = (w: { idle: LoopWait; loaded: LoopWait }) =>
  `; the loop waited for a CPU ${fmt(w.idle.usPerRun)} → ${fmt(w.loaded.usPerRun)} µs a run`;

const describeLoad = (load: LoadFigures, ping: ProbeFigures, idle: ProbeFigures, cpu: CpuUse) =>
  `${fmt(load.reqPerSec)} req/s` +
  `${load.non2xx + load.errors ? ` (${load.non2xx} non-2xx, ${load.errors} errors)` : ''}; ` +
  `ping p50 ${fmt(ping.p50)} ms, p99 ${fmt(ping.p99)} ms (${fmt(ratio(ping.p99, idle.p99))}× idle ${fmt(idle.p99)}), ` +
  `p99.9 ${fmt(ping.p999)} ms (${fmt(ratio(ping.p999, idle.p999))}×); ` +
  `CPU server ${fmt(cpu.childS / cpu.wallS, 2)} cores, harness ${fmt(cpu.harnessS / cpu.wallS, 2)}`;

const describeRows = (rows: LoadRows) =>
  rows.runs.length === 1
    ? ''
    : ` — p99 ÷ idle, ${rows.runs.length} runs pooled: ${fmt(headlineRatio(rows, 'p99'))}× ` +
      `(runs ${fmt(rows.pingP99Ratio.min)}–${fmt(rows.pingP99Ratio.max)}), ` +
      `p99.9 ${fmt(headlineRatio(rows, 'p999'))}× (runs ${fmt(rows.pingP999Ratio.min)}–${fmt(rows.pingP999Ratio.max)})`;

/**
 * A heavy route's request as the kernel table lays it out: query arguments, or a JSON body, at
 * the bench's sizes. `query` starts with '?' when there is one.
 */
export function heavyRequest(
  route: (typeof heavyRoutes)[number],
  h: Pick<Profile['http'], 'primesLimit' | 'pbkdf2Iterations'>,
): { method: 'GET' | 'POST'; query: string; body: string | undefined } {
  const values: Record<string, unknown> = {
    limit: h.primesLimit,
    password: 'correct horse',
    salt: 'NaCl',
    iterations: h.pbkdf2Iterations,
    keylen: 32,
  };
  const spec = kernelRoutes.find((r) => r.kernel === route)!;
  const value = (arg: Arg) => values[arg.name] ?? (arg.kind === 'integer' ? arg.default : undefined);
  const query = spec.args
    .filter((a) => a.from === 'query')
    .map((a) => `${a.name}=${value(a)}`)
    .join('&');
  const json = spec.args.filter((a) => a.from === 'json').map((a) => [a.name, value(a)]);
  return {
    method: spec.method === 'post' ? 'POST' : 'GET',
    query: query && `?${query}`,
    body: json.length > 0 ? JSON.stringify(Object.fromEntries(json)) : undefined,
  };
}

/** What a load sends: one URL, its method and body. */
export type Request = Omit<LoadOptions, 'connections' | 'durationS'>;
/**
 * What keeps the cores busy in a run's loaded phase: a heavy route's requests (autocannon), or,
 * for the floor, CPU-bound threads under SCHED_IDLE and no request at all (harness.ts startSpinners).
 */
export type Background = Request | { spinners: number };

/** The floor's background: one spinner per core, so every core is as busy as under a heavy route. */
export const floorBackground = (): { spinners: number } => ({ spinners: availableParallelism() });
type Settings = Pick<Profile['http'], 'idleS' | 'loadS' | 'connections' | 'probeIntervalMs'>;

/** The idle baseline, then load + probe + CPU, then wait for the server to be idle again. */
export async function measureRun(
  s: Pick<OffloopProcess, 'url' | 'pid'>,
  placement: Placement,
  h: Settings,
  load: Background,
): Promise<LoadRun & { samples: RunSamples }> {
  const idleProbe = await startPingProbe(placement, s.url, h.probeIntervalMs);
  const idleWait = loopWaitMeter(s.pid);
  await delay(h.idleS * 1000);
  const idleLoopWait = idleWait();
  const { figures: idleFigures } = await idleProbe.stop();
  const { samples: idleSamples, ...idle } = idleFigures;
  const meter = cpuMeter(s.pid);
  const loadWait = loopWaitMeter(s.pid);
  const probe = await startPingProbe(placement, s.url, h.probeIntervalMs);
  let loaded: Awaited<ReturnType<typeof runLoad>>;
  try {
    if ('spinners' in load) {
      const spinners = await startSpinners(load.spinners);
      await delay(h.loadS * 1000);
      loaded = await spinners.stop();
    } else loaded = await runLoad(placement, { ...load, connections: h.connections, durationS: h.loadS });
  } catch (error) {
    await probe.stop().catch(() => {}); // no stray pings into the next measurement
    throw error;
  }
  const loadedLoopWait = loadWait();
  const pinged = await probe.stop();
  const { samples: pingSamples, ...ping } = pinged.figures;
  const own = meter();
  const cpu = { ...own, harnessS: own.harnessS + pinged.cpuS + loaded.cpuS };
  await settle(s.url);
  return {
    idle,
    load: loaded.figures,
    ping,
    pingP99Ratio: ratio(ping.p99, idle.p99),
    pingP999Ratio: ratio(ping.p999, idle.p999),
    cpu,
    loopWait: { idle: idleLoopWait, loaded: loadedLoopWait },
    nice: { probe: pinged.nice, load: loaded.nice },
    policy: { probe: pinged.policy, load: loaded.policy },
    helpers: { probe: pinged.helpers, load: loaded.helpers },
    samples: { idle: idleSamples, ping: pingSamples },
  };
}

/** `n` runs of one load, summarised, with a line per run for the progress output. */
export async function measureRuns(
  s: Pick<OffloopProcess, 'url' | 'pid'>,
  placement: Placement,
  h: Settings,
  n: number,
  load: Background,
): Promise<{ rows: LoadRows; text: string }> {
  const done: LoadRun[] = [];
  const samples: RunSamples[] = [];
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const { samples: pings, ...r } = await measureRun(s, placement, h, load);
    done.push(r);
    samples.push(pings);
    lines.push(describeLoad(r.load, r.ping, r.idle, r.cpu) + describeWait(r.loopWait));
  }
  const rows = summarizeRuns(done, samples);
  return { rows, text: lines.join('\n    ') + describeRows(rows) };
}

export function httpPlan(profile: Profile, table: readonly StrategyInfo[], placement: Placement): Plan {
  const h = profile.http;
  const serverArgs = benchServerArgs(baseArgs);
  const started = performance.now();
  const machine = describeMachine();
  let server: OffloopProcess | undefined;
  let idlePing: ProbeFigures | undefined;
  const heavy: HeavyRow[] = [];
  const seed: SeedRow[] = [];
  const routing = routingPlan(profile, baseArgs);
  const starvation: StarvationRow[] = [];
  let floor: LoadRows | undefined;
  const steps: Step[] = [];
  const need = () => {
    if (!server) throw new Error('the server did not start');
    return server;
  };

  async function runs(n: number, load: Background) {
    const measured = await measureRuns(need(), placement, h, n, load);
    idlePing ??= measured.rows.runs[0]!.idle;
    return measured;
  }

  steps.push({
    label: `http · start offloop: node dist/src/main.js --port 0 ${serverArgs.join(' ')}`,
    async run() {
      server = await startOffloop(serverArgs);
      await settle(server.url);
      return `${server.url}, pid ${server.pid}, libuv pool ${server.libuvThreads}, worker pool ${server.workers}`;
    },
  });
  for (const route of heavyRoutes) {
    const { method, query, body } = heavyRequest(route, h);
    for (const strategy of table.filter((s) => s.kernels.includes(route))) {
      const path = `/${route}/${strategy.name}${query}`;
      const repeats = primaryRoute(strategy) !== route ? 1 : strategy.blocksLoop ? h.repeats : h.offLoopRepeats;
      steps.push({
        label:
          `http · ${method} ${path} · ${repeats} × (idle ${h.idleS} s, ` +
          `then ${h.connections} connections × ${h.loadS} s), ping every ${h.probeIntervalMs} ms`,
        async run() {
          const s = need();
          const url = `${s.url}${path}`;
          const init = {
            method,
            ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
          };
          // Requests one at a time: how long the kernel takes at this size, as the server timed it.
          const alone: number[] = [];
          for (let i = 0; i < 3; i++) {
            const reply = await fetch(url, init);
            if (reply.status !== 200)
              throw new Error(`${method} ${path} answered ${reply.status}: ${await reply.text()}`);
            alone.push(((await reply.json()) as { elapsedMs: number }).elapsedMs);
          }
          const elapsedMs = summarize(alone).p50;
          // Warm the path (JIT, pools) with one request per connection before measuring.
          await Promise.all(Array.from({ length: h.connections }, () => fetch(url, init).then((r) => r.arrayBuffer())));
          await settle(s.url);
          const measured = await runs(repeats, { url, method, ...(body === undefined ? {} : { body }) });
          heavy.push({ route, strategy: strategy.name, kernelMs: elapsedMs, ...measured.rows });
          return `kernel ${fmt(elapsedMs)} ms; ${measured.text}`;
        },
      });
    }
  }

  // The floor: the cores as busy as under a heavy route, but with threads that yield to anything
  // else at once and no request. What a strategy off the loop reads above it is its own.
  const floorLoad = floorBackground();
  steps.push({
    label:
      `http · the floor: ${floorLoad.spinners} CPU-bound threads under SCHED_IDLE, no request · ` +
      `${h.offLoopRepeats} × (idle ${h.idleS} s, then ${h.loadS} s), ping every ${h.probeIntervalMs} ms`,
    async run() {
      const measured = await runs(h.offLoopRepeats, floorLoad);
      floor = measured.rows;
      return measured.text;
    },
  });

  for (const seedPath of seedPaths) {
    const path = `${seedPath}?ms=${h.seedMs}`;
    steps.push({
      label:
        `http · seed route GET ${path} · idle ${h.idleS} s, then ${h.connections} connections × ${h.loadS} s, ` +
        `ping every ${h.probeIntervalMs} ms`,
      async run() {
        const measured = await runs(1, { url: `${need().url}${path}` });
        seed.push({ path, ...measured.rows });
        return measured.text;
      },
    });
  }

  steps.push({
    label: 'http · stop offloop (SIGTERM)',
    async run() {
      const code = await need().proc.stop();
      if (code !== 0) throw new Error(`offloop exited ${code}:\n${need().proc.output()}`);
    },
  });
  steps.push(...routing.steps);

  // Twice as many jobs as the larger of libuv's pool and the cores (a dedicated pool's default
  // size): every pool we may fill is full and has a queue, whichever pool the strategy uses.
  const starve = profile.starvation;
  const libuvThreads = () => server?.libuvThreads ?? libuvPoolSize();
  const jobsInFlight = () => 2 * Math.max(availableParallelism(), libuvThreads());
  for (const strategy of starvationStrategies(table)) {
    steps.push({
      label:
        `http · pool starvation · ${strategy}: fs.promises.readFile every ${starve.intervalMs} ms, ` +
        `${starve.idleS} s idle, then ${starve.loadedS} s with ${strategy} jobs filling its pool (child process)`,
      async run() {
        const row = await measureStarvation(
          {
            strategy,
            idleS: starve.idleS,
            loadedS: starve.loadedS,
            intervalMs: starve.intervalMs,
            jobs: jobsInFlight(),
            primesLimit: starve.primesLimit,
            pbkdf2Iterations: starve.pbkdf2Iterations,
          },
          libuvThreads(),
        );
        starvation.push(row);
        return (
          `fs read p99 ${fmt(row.idle.p99)} ms idle → ${fmt(row.loaded.p99)} ms with ` +
          `${row.jobsInFlight} ${row.kernel} jobs on ${row.pool} (${fmt(row.ratio)}×); ${fmt(row.jobsPerSec)} jobs/s`
        );
      },
    });
  }

  const none: ProbeFigures = { n: 0, mean: NaN, p50: NaN, p99: NaN, p999: NaN, max: NaN, lost: 0 };
  return {
    steps,
    result: () => ({
      part: 'http',
      profile: profile.name,
      machine: endOfPart(machine),
      durationS: (performance.now() - started) / 1000,
      note:
        `The load generator (autocannon) and the ping probe share the ${machine.cores} cores with the server: ` +
        `${placement.text}. Each load figure comes with the CPU time both sides used ` +
        '(cores = CPU seconds ÷ wall seconds).',
      harness: { placement: placement.name, text: placement.text, helpers: harnessHelpers() },
      server: {
        libuvThreads: server?.libuvThreads ?? NaN,
        workers: server?.workers ?? NaN,
        args: ['--port', '0', ...serverArgs],
      },
      settings: { ...h, starvation: { ...starve, jobsInFlight: jobsInFlight() } },
      idlePing: idlePing ?? none,
      heavy,
      ...(floor ? { floor } : {}),
      seed,
      routing: routing.result(),
      starvation,
    }),
    async cleanup() {
      await Promise.all([server?.proc.stop(), routing.cleanup()]);
    },
  };
}
