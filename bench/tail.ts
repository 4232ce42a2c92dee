import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { outputFolder } from './cli.js';
import { defaultPlacement, runLoad } from './harness.js';
import { baseArgs, heavyRequest, measureRuns, type Request, settle } from './http.js';
import { describeMachine, endOfPart, type Machine } from './machine.js';
import { type Profile, profiles } from './profile.js';
import { runSteps, type Step } from './progress.js';
import { type LoadRows, writeJson } from './results.js';
import { benchServerArgs, startOffloop } from './server.js';
import { fmt, ratio } from './stats.js';
import { primaryRoute, strategyTable } from './strategies.js';

/**
 * What keeps the loop's tail up while every core computes (issue 14 §2): each off-loop strategy
 * under the configurations that might help — libuv's pool size against the cores, the admission
 * limit, the pool threads' priority (set from outside, as an operator could: `renice -n 19` or
 * `chrt --idle` on the threads that do the work, found by the CPU they burn under a warm-up
 * load), the dedicated pools' policies. Not in the default run:
 *
 *   node dist/bench/run.js tail [--quick] [--out <dir>]     (writes tail.json)
 */

const execFileP = promisify(execFile);

type ThreadPolicy = 'idle' | 'nice19';
interface TailConfig {
  strategy: string;
  label: string;
  args?: string[];
  /** Applied to the threads that do the strategy's work (not the loop), after a warm-up load finds them. */
  threads?: ThreadPolicy;
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
];

/** CPU ticks of each thread of `pid` (utime + stime). */
function threadTicks(pid: number): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
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

async function applyPolicy(tids: readonly number[], policy: ThreadPolicy): Promise<void> {
  for (const tid of tids) {
    if (policy === 'idle') await execFileP('chrt', ['--idle', '-p', '0', String(tid)]);
    else await execFileP('renice', ['-n', '19', '-p', String(tid)]);
  }
}

export interface TailRow extends LoadRows {
  strategy: string;
  label: string;
  args: string[];
  threads?: ThreadPolicy;
  /** How many threads the policy was applied to. */
  threadsChanged: number;
  /** Median req/s ÷ the strategy's default configuration's. */
  throughput: number;
}

export interface TailResult {
  part: 'tail';
  profile: Profile['name'];
  machine: Machine;
  harness: string;
  rows: TailRow[];
}

export function tailPlan(profile: Profile) {
  // A shorter idle baseline than the HTTP part's: there are many configurations.
  const h = { ...profile.http, idleS: Math.min(2, profile.http.idleS) };
  const table = strategyTable();
  const rows: TailRow[] = [];
  const machine = describeMachine();
  let stopServer: (() => Promise<unknown>) | undefined;
  const steps: Step[] = tailConfigs.map((c) => ({
    label:
      `tail · ${c.strategy} · ${c.label}: ` +
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
        if (c.threads) await applyPolicy(tids, c.threads);
        await settle(server.url);
        const measured = await measureRuns(server, defaultPlacement, h, h.repeats, load);
        const base = rows.find((r) => r.strategy === c.strategy);
        rows.push({
          strategy: c.strategy,
          label: c.label,
          args,
          ...(c.threads ? { threads: c.threads } : {}),
          threadsChanged: c.threads ? tids.length : 0,
          ...measured.rows,
          throughput: base ? ratio(measured.rows.reqPerSec.median, base.reqPerSec.median) : 1,
        });
        const r = measured.rows;
        return (
          `p99 ÷ idle ${fmt(r.pingP99Ratio.median)}× (${fmt(r.pingP99Ratio.min)}–${fmt(r.pingP99Ratio.max)}), ` +
          `p99.9 ${fmt(r.pingP999Ratio.median)}×; ${fmt(r.reqPerSec.median)} req/s; ` +
          `the loop waited ${fmt(r.loopWaitUs.median)} µs for a CPU a run` +
          `${c.threads ? `; ${tids.length} threads → ${c.threads}` : ''}`
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
    }),
    cleanup: async () => {
      await stopServer?.();
    },
  };
}

/** `node dist/bench/run.js tail [--quick] [--out <dir>]`. */
export async function tailMain(argv: string[]): Promise<number> {
  const { parseArgs } = await import('node:util');
  const { values } = parseArgs({
    args: argv,
    options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } },
    strict: true,
  });
  const profile = profiles[values.quick ? 'quick' : 'full'];
  const out = await outputFolder({ quick: values.quick, out: values.out });
  await mkdir(out, { recursive: true });
  const plan = tailPlan(profile);
  console.log(`offloop bench (${profile.name}): tail — ${plan.steps.length} configurations → ${out}`);
  let failures: Awaited<ReturnType<typeof runSteps>>;
  try {
    failures = await runSteps(plan.steps);
  } finally {
    await plan.cleanup();
  }
  const result = plan.result();
  await writeJson(out, 'tail', result);
  console.log(
    '\nstrategy · configuration: ping p99 ÷ idle, median (min–max); p99.9; throughput ÷ default; ' +
      "the loop's wait for a CPU, µs a run",
  );
  for (const r of result.rows)
    console.log(
      `  ${r.strategy} · ${r.label}: ${fmt(r.pingP99Ratio.median)}× (${fmt(r.pingP99Ratio.min)}–` +
        `${fmt(r.pingP99Ratio.max)}); ${fmt(r.pingP999Ratio.median)}×; ${fmt(r.throughput)}; ` +
        fmt(r.loopWaitUs.median),
    );
  return failures.length ? 1 : 0;
}
