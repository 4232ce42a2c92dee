/**
 * Dispatch cost: a `noop` round trip, awaited one after another, through each way of leaving the
 * loop. Used by the kernel suite (kernels.ts), and runnable alone for more paths and an A/B of two
 * addon builds or of the pools' spin: `node dist/bench/dispatch.js [--rounds 30] [--calls 400]
 * [--in-flight 1] [--gap-ms 0] [--baseline DIR] [--spin-us N] [--json]`.
 *
 * Why it is built like this: one long timing of each path in turn swings from run to run (the
 * machine's load moves between the timings). Here the paths take turns, a batch each per round,
 * who goes first rotating, so each round's ratio to piscina compares batches taken moments apart;
 * every figure is the median over the rounds, with the quartiles as its spread. Two figures:
 * - wall: µs per round trip (what a caller waits) — noise on a shared machine;
 * - cpu: µs of this process's CPU time per round trip, every thread counted (the pool threads,
 *   piscina's workers, libuv's) — what survives contention.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { addonCandidates, type NativeBinding } from '../src/engines/addon.js';
import { cpp, cppPool, createWorkers, rust, rustPool } from '../src/index.js';
import { firstCore } from './harness.js';
import type { DispatchRow } from './results.js';
import { percentile } from './stats.js';

export interface DispatchPath {
  name: string;
  call: () => Promise<unknown>;
}

/** A path the bench reports, with what it is in words. */
export interface RoundTrip extends DispatchPath {
  what: string;
}

/**
 * The round trips the bench compares: a `noop` through each way of leaving the loop, and a bare
 * worker_threads ping-pong as the floor of any worker-based path. `close` ends the echo worker.
 */
export function roundTrips(workers: { noop(): Promise<unknown> }): { trips: RoundTrip[]; close(): Promise<void> } {
  let echo: Worker | undefined;
  let pending: (() => void) | undefined;
  const pingPong = () =>
    new Promise<void>((resolve) => {
      echo ??= new Worker(new URL('./echo-worker.js', import.meta.url)).on('message', () => {
        const settle = pending;
        pending = undefined;
        settle?.();
      });
      pending = resolve;
      echo.postMessage(0);
    });
  return {
    trips: [
      { name: 'cpp', what: "cpp.noop(): async work on libuv's pool (node-addon-api)", call: () => cpp.noop() },
      { name: 'rust', what: "rust.noop(): async work on libuv's pool (raw Node-API)", call: () => rust.noop() },
      { name: 'cpp-pool', what: "cppPool.noop(): the C++ addon's own pool", call: () => cppPool.noop() },
      { name: 'rust-pool', what: "rustPool.noop(): the Rust addon's own pool", call: () => rustPool.noop() },
      { name: 'workers', what: 'workers.noop(): a piscina task', call: () => workers.noop() },
      { name: 'postmessage', what: 'a bare worker_threads postMessage ping-pong', call: () => pingPong() },
    ],
    close: async () => {
      await echo?.terminate();
    },
  };
}

/** A path's figures as the kernel suite's results keep them (times in ms, like tinybench's rows). */
export function dispatchRow(f: DispatchFigures, what: string): DispatchRow {
  const ms = (us: number) => us / 1000;
  return {
    name: f.name,
    what,
    // Over the rounds' batches (µs per call): the median, the mean, the p99 of the batches,
    // and rme, the interquartile half-width ÷ the median; `rounds` has the rest.
    opsPerSec: 1e6 / f.meanWallUs,
    meanMs: ms(f.meanWallUs),
    p50Ms: ms(f.wallUs.p50),
    p99Ms: ms(f.p99WallUs),
    rme: (100 * (f.wallUs.p75 - f.wallUs.p25)) / 2 / f.wallUs.p50,
    samples: f.rounds * f.callsPerBatch,
    rounds: f,
  };
}

/**
 * The same round trips in a child process pinned to one core (`taskset`), or undefined where
 * `taskset` is missing. Why: on a virtual machine, waking a thread on an idle virtual core costs
 * tens of µs (native/README.md, "Dispatch"), and whether a path's threads share the caller's core
 * is the scheduler's choice, made per process; on one core every handoff is a plain context
 * switch, so this figure is the mechanisms' own cost, and holds still between runs.
 */
export async function dispatchOnOneCore(rounds: number, calls: number): Promise<DispatchRow[] | undefined> {
  const core = firstCore();
  if (core === undefined) return undefined;
  const self = fileURLToPath(import.meta.url);
  const args = [
    '-c',
    String(core),
    process.execPath,
    self,
    '--json',
    '--rounds',
    String(rounds),
    '--calls',
    String(calls),
  ];
  const { stdout } = await promisify(execFile)('taskset', args, { maxBuffer: 16 << 20 });
  const { rows } = JSON.parse(stdout) as { rows: Array<DispatchFigures & { what: string }> };
  return rows.map((r) => {
    const { what, ...figures } = r;
    return dispatchRow(figures, what);
  });
}

/** p25, p50 and p75 of the rounds' figures. */
export interface Quartiles {
  p25: number;
  p50: number;
  p75: number;
}

export interface DispatchFigures {
  name: string;
  rounds: number;
  callsPerBatch: number;
  /** µs per call, wall and CPU, over the rounds' batches. */
  wallUs: Quartiles;
  cpuUs: Quartiles;
  /** The mean over every call, and the p99 of the batches' figures, in µs. */
  meanWallUs: number;
  p99WallUs: number;
  /** Each round's figure ÷ the reference path's in the same round (1 for the reference). */
  ratioWall: Quartiles;
  ratioCpu: Quartiles;
}

export interface DispatchPlan {
  paths: DispatchPath[];
  /** The name of the path the ratios divide by. */
  reference: string;
  callsPerBatch: number;
  /** Stop after this many rounds, or once `budgetMs` has passed (at least `minRounds`). */
  maxRounds: number;
  minRounds?: number;
  budgetMs?: number;
  /** A timer's pause after each call (tasks that arrive sparsely): wall counts only the calls. */
  gapMs?: number;
  /** Calls kept in flight at once (a batch's calls shared by that many loops); 1 by default. */
  inFlight?: number;
}

const quartiles = (xs: readonly number[]): Quartiles => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { p25: percentile(sorted, 25), p50: percentile(sorted, 50), p75: percentile(sorted, 75) };
};

/** Round trips through every path in rotating batches (see the top of this file). */
export async function measureDispatch(plan: DispatchPlan): Promise<DispatchFigures[]> {
  const { paths, callsPerBatch: calls, gapMs = 0, inFlight = 1 } = plan;
  const pause = () => new Promise((resolve) => setTimeout(resolve, gapMs));
  const batch = async (path: DispatchPath) => {
    const cpu0 = process.cpuUsage();
    let wall = 0;
    if (gapMs > 0) {
      for (let i = 0; i < calls; i++) {
        const t0 = performance.now();
        await path.call();
        wall += performance.now() - t0;
        await pause();
      }
    } else {
      const t0 = performance.now();
      let left = calls;
      const loop = async () => {
        while (left-- > 0) await path.call();
      };
      await Promise.all(Array.from({ length: inFlight }, loop));
      wall = performance.now() - t0;
    }
    const used = process.cpuUsage(cpu0);
    return { wall: (wall * 1000) / calls, cpu: (used.user + used.system) / calls };
  };
  for (const path of paths) await batch(path); // warm-up: threads started, code compiled
  const seen = new Map(paths.map((p) => [p.name, { wall: [] as number[], cpu: [] as number[] }]));
  const started = performance.now();
  for (let round = 0; round < plan.maxRounds; round++) {
    const budgetSpent = plan.budgetMs !== undefined && performance.now() - started > plan.budgetMs;
    if (budgetSpent && round >= (plan.minRounds ?? 1)) break;
    for (let k = 0; k < paths.length; k++) {
      const path = paths[(round + k) % paths.length]!; // who goes first rotates
      const { wall, cpu } = await batch(path);
      seen.get(path.name)!.wall.push(wall);
      seen.get(path.name)!.cpu.push(cpu);
    }
  }
  const reference = seen.get(plan.reference)!;
  return [...seen].map(([name, s]) => ({
    name,
    rounds: s.wall.length,
    callsPerBatch: calls,
    wallUs: quartiles(s.wall),
    cpuUs: quartiles(s.cpu),
    meanWallUs: s.wall.reduce((sum, x) => sum + x, 0) / s.wall.length,
    p99WallUs: percentile(
      [...s.wall].sort((a, b) => a - b),
      99,
    ),
    ratioWall: quartiles(s.wall.map((x, i) => x / reference.wall[i]!)),
    ratioCpu: quartiles(s.cpu.map((x, i) => x / reference.cpu[i]!)),
  }));
}

/** The CPU share of a core this process uses over `ms` of doing nothing (a spinning thread shows). */
export async function idleCpuShare(ms: number): Promise<number> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const used = process.cpuUsage(cpu0);
  return (used.user + used.system) / 1000 / (performance.now() - t0);
}

async function main() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '30' },
      calls: { type: 'string', default: '400' },
      baseline: { type: 'string' },
      'gap-ms': { type: 'string', default: '0' },
      'in-flight': { type: 'string', default: '1' },
      'spin-us': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const require = createRequire(import.meta.url);
  const load = (file: string) => require(file) as NativeBinding;
  const workers = createWorkers();
  const standard = roundTrips(workers);
  const paths: DispatchPath[] = [...standard.trips];
  // --baseline DIR: the addons of another build (DIR is a checkout with build/, or a folder holding
  // offloop_cpp.node and offloop_rust.node) beside this build's, both called directly: an A/B of
  // a change to the addons.
  const addons: NativeBinding[] = [];
  if (values.baseline !== undefined) {
    const dir = values.baseline;
    const built = existsSync(join(dir, 'build'));
    const file = (name: 'cpp' | 'rust') =>
      built
        ? join(dir, 'build', name === 'cpp' ? 'Release' : 'rust', `offloop_${name}.node`)
        : join(dir, `offloop_${name}.node`);
    const sides = [
      ['', load(addonCandidates('cpp')[0]!), load(addonCandidates('rust')[0]!)],
      ['@base', load(file('cpp')), load(file('rust'))],
    ] as const;
    for (const [suffix, c, r] of sides) {
      addons.push(c, r);
      paths.push(
        { name: `addon cpp${suffix}`, call: () => c.noop() },
        { name: `addon rust${suffix}`, call: () => r.noop() },
        { name: `addon cpp.pool${suffix}`, call: () => c.pool.noop() },
        { name: `addon rust.pool${suffix}`, call: () => r.pool.noop() },
      );
    }
  }
  // --spin-us N: copies of this build's addons, loaded with OFFLOOP_POOL_SPIN_US=N (each addon
  // reads it when it loads), beside this build's pools without it.
  if (values['spin-us'] !== undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'offloop-spin-'));
    const copy = (name: 'cpp' | 'rust') => {
      const to = join(dir, `offloop_${name}.node`);
      copyFileSync(addonCandidates(name)[0]!, to);
      return to;
    };
    const plain = [load(addonCandidates('cpp')[0]!), load(addonCandidates('rust')[0]!)] as const;
    const before = process.env.OFFLOOP_POOL_SPIN_US;
    process.env.OFFLOOP_POOL_SPIN_US = values['spin-us'];
    const spinning = [load(copy('cpp')), load(copy('rust'))] as const;
    if (before === undefined) delete process.env.OFFLOOP_POOL_SPIN_US;
    else process.env.OFFLOOP_POOL_SPIN_US = before;
    rmSync(dir, { recursive: true, force: true }); // loaded: the files are no longer needed
    addons.push(...plain, ...spinning);
    paths.push(
      { name: 'addon cpp.pool@nospin', call: () => plain[0].pool.noop() },
      { name: 'addon rust.pool@nospin', call: () => plain[1].pool.noop() },
      { name: 'addon cpp.pool@spin', call: () => spinning[0].pool.noop() },
      { name: 'addon rust.pool@spin', call: () => spinning[1].pool.noop() },
    );
  }
  const rounds = Number(values.rounds);
  const calls = Number(values.calls);
  const gapMs = Number(values['gap-ms']);
  const inFlight = Number(values['in-flight']);
  const plan = { paths, reference: 'workers', callsPerBatch: calls, maxRounds: rounds, gapMs, inFlight };
  const rows = await measureDispatch(plan);
  const idle = await idleCpuShare(1000);
  if (values.json) {
    const what = (name: string) => standard.trips.find((t) => t.name === name)?.what ?? name;
    const described = rows.map((r) => ({ ...r, what: what(r.name) }));
    console.log(JSON.stringify({ rounds, calls, gapMs, inFlight, idleCpuShare: idle, rows: described }, null, 2));
  } else {
    const q = (s: Quartiles, d = 1) => `${s.p50.toFixed(d)} [${s.p25.toFixed(d)}–${s.p75.toFixed(d)}]`;
    const how = gapMs > 0 ? `, a ${gapMs} ms pause after each` : inFlight > 1 ? `, ${inFlight} in flight` : '';
    console.log(`dispatch: ${rounds} rounds × ${calls} noop calls per path${how}; median [p25–p75] of rounds`);
    const columns = ['wall µs/call', 'cpu µs/call', 'wall ÷ piscina', 'cpu ÷ piscina'];
    console.log('path'.padEnd(22) + columns.map((c) => c.padEnd(22)).join(''));
    for (const r of rows) {
      const cells = [q(r.wallUs), q(r.cpuUs), q(r.ratioWall, 3), q(r.ratioCpu, 3)];
      console.log(r.name.padEnd(22) + cells.map((c) => c.padEnd(22)).join(''));
    }
    console.log(`idle afterwards: the process used ${(idle * 100).toFixed(2)}% of a core`);
  }
  await standard.close();
  await workers.close();
  for (const engine of [cppPool, rustPool]) await engine.close();
  for (const addon of addons) addon.pool.stop();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
