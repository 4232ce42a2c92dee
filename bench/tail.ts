import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { outputFolder } from './cli.js';
import { defaultPlacement, runLoad } from './harness.js';
import { baseArgs, heavyRequest, measureRuns, type Request, settle } from './http.js';
import { describeMachine, endOfPart, type Machine } from './machine.js';
import { type Profile, profiles } from './profile.js';
import { runSteps, type Step } from './progress.js';
import { headlineRatio, type LoadRows, writeJson } from './results.js';
import { benchServerArgs, startOffloop } from './server.js';
import { fmt, type Repeated, ratio, repeated, round as round4 } from './stats.js';
import { primaryRoute, strategyTable } from './strategies.js';
import { setThreadPolicy, type ThreadPolicy, threadIds } from './threads.js';

/**
 * What keeps the loop's tail up while every core computes (issue 14 §2): each off-loop strategy
 * under the configurations that might help — libuv's pool size against the cores, the admission
 * limit, the pool threads' priority (set from outside, as an operator could: `renice -n 19` or
 * `chrt --idle` on the threads that do the work, found by the CPU they burn under a warm-up
 * load), the dedicated pools' policies. Not in the default run:
 *
 *   node dist/bench/run.js tail [--quick] [--out <dir>]     (writes tail.json)
 *
 * A partial run (`--only`, `--defaults`, `--rounds`) writes to a scratch folder unless `--out`
 * says where, so it never replaces the committed bench/results/tail.json.
 */

interface TailConfig {
  strategy: string;
  label: string;
  args?: string[];
  /** Applied to the threads that do the strategy's work (not the loop), after a warm-up load finds them. */
  threads?: ThreadPolicy;
  /** Applied to the server's other threads (V8's compiler and garbage-collector helpers, Node's), likewise. */
  helpers?: ThreadPolicy;
}

/** The experiments, by strategy; the first of each strategy is its default configuration. */
export const tailConfigs: readonly TailConfig[] = [
  { strategy: 'cpp', label: 'default (libuv pool 4)' },
  { strategy: 'cpp', label: '--threadpool 2', args: ['--threadpool', '2'] },
  { strategy: 'cpp', label: '--threadpool 1', args: ['--threadpool', '1'] },
  { strategy: 'cpp', label: '--max-inflight 1 (pool 4)', args: ['--max-inflight', '1'] },
  { strategy: 'cpp', label: 'libuv threads at nice 19', threads: 'nice19' },
  { strategy: 'cpp', label: 'libuv threads SCHED_IDLE', threads: 'idle' },
  { strategy: 'cpp', label: '--threadpool 2, threads SCHED_IDLE', args: ['--threadpool', '2'], threads: 'idle' },
  { strategy: 'worker', label: 'default (workers = cores)' },
  { strategy: 'worker', label: '--workers 1', args: ['--workers', '1'] },
  { strategy: 'worker', label: 'worker threads at nice 19', threads: 'nice19' },
  { strategy: 'worker', label: 'worker threads SCHED_IDLE', threads: 'idle' },
  { strategy: 'rust', label: 'default (libuv pool 4)' },
  { strategy: 'builtin', label: 'default (libuv pool 4)' },
  { strategy: 'builtin', label: '--threadpool 2', args: ['--threadpool', '2'] },
  { strategy: 'builtin', label: 'libuv threads SCHED_IDLE', threads: 'idle' },
  { strategy: 'cpp-pool', label: 'default (--pool-policy idle)' },
  { strategy: 'cpp-pool', label: '--pool-policy batch', args: ['--pool-policy', 'batch'] },
  { strategy: 'cpp-pool', label: '--pool-policy normal --pool-nice 10', args: ['--pool-policy', 'normal'] },
  {
    strategy: 'cpp-pool',
    label: '--pool-policy normal --pool-nice 0',
    args: ['--pool-policy', 'normal', '--pool-nice', '0'],
  },
  {
    strategy: 'cpp-pool',
    label: "default, the server's other threads (V8's, Node's) SCHED_IDLE",
    helpers: 'idle',
  },
  { strategy: 'rust-pool', label: 'default (--pool-policy idle)' },
];

/** The configurations to run: `only` strategies (all when empty), `defaults`: each one's first only. */
export function selectConfigs(only: readonly string[], defaults: boolean): TailConfig[] {
  const wanted = tailConfigs.filter((c) => only.length === 0 || only.includes(c.strategy));
  return defaults ? wanted.filter((c) => wanted.find((d) => d.strategy === c.strategy) === c) : wanted;
}

/** CPU ticks of each thread of `pid` (utime + stime). */
function threadTicks(pid: number): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const tid of threadIds(pid)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks.set(Number(tid), Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended
    }
  }
  return ticks;
}

/** The threads other than the loop that used at least a third of the busiest one's CPU in between. */
export function busyThreads(before: Map<number, number>, after: Map<number, number>, loop: number): number[] {
  const used = [...after].filter(([tid]) => tid !== loop).map(([tid, t]) => [tid, t - (before.get(tid) ?? 0)] as const);
  const most = Math.max(0, ...used.map(([, d]) => d));
  return most === 0 ? [] : used.filter(([, d]) => d >= most / 3).map(([tid]) => tid);
}

function applyPolicy(tids: readonly number[], policy: ThreadPolicy): void {
  for (const tid of tids)
    if (!setThreadPolicy(tid, policy))
      throw new Error(`could not move thread ${tid} to ${policy === 'idle' ? 'SCHED_IDLE (chrt --idle)' : 'nice 19'}`);
}

export interface TailRow extends LoadRows {
  /** Which pass over the configurations (1-based): `--rounds N` runs them all N times, in turn. */
  round: number;
  strategy: string;
  label: string;
  args: string[];
  threads?: ThreadPolicy;
  /** How many threads the policy was applied to. */
  threadsChanged: number;
  helpers?: ThreadPolicy;
  /** How many of the server's other threads `helpers` was applied to. */
  helpersChanged?: number;
  /** Median req/s ÷ the strategy's default configuration's. */
  throughput: number;
}

export interface TailResult {
  part: 'tail';
  profile: Profile['name'];
  machine: Machine;
  harness: string;
  rows: TailRow[];
  /**
   * With more than one round: each configuration's published figure (runs pooled) in every
   * round, its median and min–max: how far one bench run's figure can be trusted.
   */
  betweenRounds?: Array<{ strategy: string; label: string; p99Ratios: number[]; p99Ratio: Repeated }>;
}

export function tailPlan(profile: Profile, configs: readonly TailConfig[] = tailConfigs, rounds = 1) {
  // A shorter idle baseline than the HTTP part's: there are many configurations.
  const h = { ...profile.http, idleS: Math.min(2, profile.http.idleS) };
  const table = strategyTable();
  const rows: TailRow[] = [];
  const machine = describeMachine();
  let stopServer: (() => Promise<unknown>) | undefined;
  const passes = Array.from({ length: rounds }, (_, i) => configs.map((c) => ({ c, round: i + 1 })));
  const steps: Step[] = passes.flat().map(({ c, round }) => ({
    label:
      `tail · ${rounds > 1 ? `round ${round} · ` : ''}${c.strategy} · ${c.label}: ` +
      `${h.repeats} × (idle ${h.idleS} s, ${h.connections} connections × ${h.loadS} s)`,
    async run() {
      const strategy = table.find((s) => s.name === c.strategy);
      const route = strategy && primaryRoute(strategy);
      if (!route) throw new Error(`no strategy ${c.strategy} with a heavy route`);
      const args = benchServerArgs([...baseArgs, ...(c.args ?? [])]);
      const server = await startOffloop(args);
      stopServer = () => server.proc.stop();
      try {
        await settle(server.url);
        const { method, query, body } = heavyRequest(route, h);
        const load: Request = {
          url: `${server.url}/${route}/${c.strategy}${query}`,
          method,
          ...(body === undefined ? {} : { body }),
        };
        // Warm-up: JIT and pools, and the threads that do this strategy's work show themselves.
        const before = threadTicks(server.pid);
        await runLoad(defaultPlacement, { ...load, connections: h.connections, durationS: Math.max(1, h.loadS / 2) });
        const tids = busyThreads(before, threadTicks(server.pid), server.pid);
        const all = threadIds(server.pid);
        if ((c.threads || c.helpers) && all.length === 0)
          throw new Error(`${c.label}: the server's threads are read from /proc (Linux only)`);
        if (c.threads) applyPolicy(tids, c.threads);
        const helpers = all.filter((tid) => tid !== server.pid && !tids.includes(tid));
        if (c.helpers) applyPolicy(helpers, c.helpers);
        await settle(server.url);
        const measured = await measureRuns(server, defaultPlacement, h, h.repeats, load);
        const base = rows.find((r) => r.strategy === c.strategy && r.round === round);
        rows.push({
          round,
          strategy: c.strategy,
          label: c.label,
          args,
          ...(c.threads ? { threads: c.threads } : {}),
          threadsChanged: c.threads ? tids.length : 0,
          ...(c.helpers ? { helpers: c.helpers, helpersChanged: helpers.length } : {}),
          ...measured.rows,
          throughput: base ? ratio(measured.rows.reqPerSec.median, base.reqPerSec.median) : 1,
        });
        const r = measured.rows;
        return (
          `p99 ÷ idle ${fmt(headlineRatio(r, 'p99'))}× (runs ${fmt(r.pingP99Ratio.min)}–${fmt(r.pingP99Ratio.max)}), ` +
          `p99.9 ${fmt(headlineRatio(r, 'p999'))}×; ${fmt(r.reqPerSec.median)} req/s; ` +
          `the loop waited ${fmt(r.loopWaitUs.median)} µs for a CPU a run` +
          `${c.threads ? `; ${tids.length} threads → ${c.threads}` : ''}` +
          `${c.helpers ? `; ${helpers.length} helper threads → ${c.helpers}` : ''}`
        );
      } finally {
        await server.proc.stop();
        stopServer = undefined;
      }
    },
  }));
  return {
    steps,
    result: (): TailResult => ({
      part: 'tail',
      profile: profile.name,
      machine: endOfPart(machine),
      harness: defaultPlacement.text,
      rows,
      ...(rounds > 1
        ? {
            betweenRounds: configs.map((c) => {
              const p99Ratios = rows
                .filter((r) => r.strategy === c.strategy && r.label === c.label)
                .map((r) => round4(headlineRatio(r, 'p99')));
              return { strategy: c.strategy, label: c.label, p99Ratios, p99Ratio: repeated(p99Ratios) };
            }),
          }
        : {}),
    }),
    cleanup: async () => {
      await stopServer?.();
    },
  };
}

/**
 * `node dist/bench/run.js tail [--quick] [--out <dir>] [--only cpp-pool,rust-pool] [--defaults]
 * [--rounds N]`: `--defaults` runs each strategy's default configuration only; `--rounds N` runs
 * the whole list N times, in turn, and reports how far each figure moves between rounds.
 */
export async function tailMain(argv: string[]): Promise<number> {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      only: { type: 'string', default: '' },
      defaults: { type: 'boolean', default: false },
      rounds: { type: 'string', default: '1' },
    },
    strict: true,
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 20)
    throw new RangeError(`--rounds must be an integer from 1 to 20, got ${JSON.stringify(values.rounds)}`);
  const only = values.only.split(',').filter(Boolean);
  const known = new Set(tailConfigs.map((c) => c.strategy));
  const unknown = only.filter((name) => !known.has(name));
  if (unknown.length > 0)
    throw new RangeError(
      `--only: no tail configurations for ${unknown.join(', ')} (there are: ${[...known].join(', ')})`,
    );
  const profile = profiles[values.quick ? 'quick' : 'full'];
  const partial = only.length > 0 || values.defaults || rounds > 1;
  const out = await outputFolder({ quick: values.quick || partial, out: values.out });
  await mkdir(out, { recursive: true });
  const configs = selectConfigs(only, values.defaults);
  const plan = tailPlan(profile, configs, rounds);
  console.log(`offloop bench (${profile.name}): tail — ${configs.length} configurations × ${rounds} rounds → ${out}`);
  let failures: Awaited<ReturnType<typeof runSteps>>;
  try {
    failures = await runSteps(plan.steps);
  } finally {
    await plan.cleanup();
  }
  const result = plan.result();
  await writeJson(out, 'tail', result);
  console.log(
    '\nstrategy · configuration: ping p99 ÷ idle, runs pooled (runs: min–max); p99.9; throughput ÷ default; ' +
      "the loop's wait for a CPU, µs a run",
  );
  for (const r of result.rows)
    console.log(
      `  ${rounds > 1 ? `${r.round} · ` : ''}${r.strategy} · ${r.label}: ${fmt(headlineRatio(r, 'p99'))}× ` +
        `(runs ${fmt(r.pingP99Ratio.min)}–${fmt(r.pingP99Ratio.max)}); ${fmt(headlineRatio(r, 'p999'))}×; ` +
        `${fmt(r.throughput)}; ${fmt(r.loopWaitUs.median)}`,
    );
  if (result.betweenRounds) {
    console.log('\nbetween rounds: ping p99 ÷ idle (runs pooled), median (min–max), each round');
    for (const b of result.betweenRounds)
      console.log(
        `  ${b.strategy} · ${b.label}: ${fmt(b.p99Ratio.median)}× (${fmt(b.p99Ratio.min)}–${fmt(b.p99Ratio.max)}); ` +
          b.p99Ratios.map((v) => fmt(v)).join(', '),
      );
  }
  return failures.length ? 1 : 0;
}
