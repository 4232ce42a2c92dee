import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CpuKernelName } from '../src/engines/kernels.js';
import type { CpuUse, LoopWait } from './cpu.js';
import type { DispatchFigures } from './dispatch.js';
import type { Machine } from './machine.js';
import type { Profile } from './profile.js';
import type { LatencySummary, Repeated } from './stats.js';

/** The raw figures of each part, as written to `<out>/<part>.json`. Times in ms unless named. */

export interface TaskStats {
  /** 1000 ÷ mean latency: the rate of back-to-back calls. */
  opsPerSec: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  /** Relative margin of error of the mean, in percent (tinybench). */
  rme: number;
  samples: number;
}

export interface KernelRow extends TaskStats {
  kernel: CpuKernelName;
  engine: 'js' | 'cpp' | 'rust';
}

export interface OpensslRow extends TaskStats {
  /** `crypto.pbkdf2Sync`, `crypto.pbkdf2`, or an offloop engine's sync or Promise form. */
  name: string;
  engine: 'openssl' | 'js' | 'cpp' | 'rust';
  form: 'sync' | 'async';
}

export interface DispatchRow extends TaskStats {
  /** cpp, rust, cpp-pool, rust-pool, workers (piscina), postmessage (a bare worker_threads ping-pong). */
  name: string;
  what: string;
  /** The rotating batches' figures (bench/dispatch.ts): wall and CPU per call, ratios to piscina. */
  rounds?: DispatchFigures;
}

export interface ScalingRow {
  engine: 'cpp' | 'rust' | 'workers';
  inFlight: number;
  completed: number;
  wallMs: number;
  opsPerSec: number;
  /**
   * CPU this process used in the window ÷ its wall time: below k (and the cores) means other processes took the CPU.
   */
  cpuCores: number;
}

export interface KernelsResult {
  part: 'kernels';
  profile: 'full' | 'quick';
  machine: Machine;
  durationS: number;
  inputs: Pick<Profile['kernels'], 'primesLimit' | 'pbkdf2' | 'blur' | 'scalingPrimesLimit'> & {
    workerThreads: number;
  };
  shaBackend: { cpp: string; rust: string };
  kernels: KernelRow[];
  openssl: OpensslRow[];
  dispatch: DispatchRow[];
  /**
   * The same round trips in a child process pinned to one core (absent without `taskset`): the
   * mechanisms' own cost, without the cross-core wake-ups that `dispatch` includes.
   */
  dispatchOneCore?: DispatchRow[];
  scaling: ScalingRow[];
}

export interface LoadFigures {
  /** 2xx answers per second of the load window. */
  reqPerSec: number;
  ok: number;
  non2xx: number;
  errors: number;
  latency: { p50: number; p99: number; max: number };
}

export interface ProbeFigures extends LatencySummary {
  /** Pings that failed or never came back before the probe stopped. */
  lost: number;
}

/** One idle-then-loaded measurement: the idle baseline is taken right before its loaded phase. */
export interface LoadRun {
  idle: ProbeFigures;
  load: LoadFigures;
  ping: ProbeFigures;
  /** ping p99 (p99.9) under load ÷ the idle p99 (p99.9) measured just before. */
  pingP99Ratio: number;
  pingP999Ratio: number;
  /**
   * Server and harness CPU; harnessS counts the probe's and the load generator's processes (for
   * the floor, the spinners' process: its CPU is the load).
   */
  cpu: CpuUse;
  /** The server's loop thread's wait for a CPU (scheduler accounting), idle and under this load. */
  loopWait: { idle: LoopWait; loaded: LoopWait };
  /** The nice values the probe and the load generator really ran at. */
  nice: { probe: number; load: number };
  /** Their scheduling policies, as each read its own (absent in older results). */
  policy?: { probe: string; load: string };
  /** What their other threads (V8's, Node's) were lowered to: `idle`, `nice 19`, `unchanged` (absent before). */
  helpers?: { probe: string; load: string };
}

/** A load measured `runs.length` times: the runs' pings pooled for the headline figures, their ratios the spread. */
export interface LoadRows {
  runs: LoadRun[];
  /** Median and spread (min–max) of the runs' own ratios. */
  pingP99Ratio: Repeated;
  pingP999Ratio: Repeated;
  /**
   * Every run's pings taken together: the p99 (p99.9) of all loaded pings ÷ that of all idle
   * pings. The figure we publish: each run's p99 rests on its ~25 slowest pings of ~2500 (a ping
   * every 2 ms for 5 s) and its idle baseline on ~15, so single runs swing; the pooled figure rests
   * on the runs' pings together. It need not lie within the runs' own min–max.
   */
  pooled?: {
    p99Ratio: number;
    p999Ratio: number;
    /**
     * The 5th–95th percentile of each pooled ratio over the runs resampled with replacement
     * (stats.ts bootstrapRanges): how far another invocation's figure could move from sampling
     * alone; summary.json's `spread` for it. Absent for a single run and in older results.
     */
    p99Interval?: [number, number];
    p999Interval?: [number, number];
  };
  reqPerSec: Repeated;
  /** The loop thread's mean wait for a CPU per run under load, µs: median and spread over the runs. */
  loopWaitUs: Repeated;
  /** The median run's load and CPU figures; the pings of every run pooled (or the median run's, in older results). */
  load: LoadFigures;
  ping: ProbeFigures;
  idle: ProbeFigures;
  cpu: CpuUse;
}

/** The figure a strategy is known by: the pooled ratio where there is one, else the runs' median. */
export const headlineRatio = (rows: Pick<LoadRows, 'pooled' | 'pingP99Ratio' | 'pingP999Ratio'>, at: 'p99' | 'p999') =>
  (at === 'p99' ? rows.pooled?.p99Ratio : rows.pooled?.p999Ratio) ??
  (at === 'p99' ? rows.pingP99Ratio : rows.pingP999Ratio).median;

export interface HeavyRow extends LoadRows {
  route: 'primes' | 'pbkdf2';
  strategy: string;
  /** The server's own elapsedMs for this size: the median of 3 requests sent one at a time. */
  kernelMs: number;
}

export interface SeedRow extends LoadRows {
  path: string;
}

export interface RoutingRow {
  server: 'offloop' | 'offloop-silent' | 'bare-uws';
  route: string;
  round: number;
  generator: 'wrk' | 'autocannon';
  reqPerSec: number;
  ok: number;
  non2xx: number;
  errors: number;
  cpu: CpuUse;
  /** Server CPU per answered request: independent of how fast the load generator could go. */
  serverCpuUsPerReq: number;
}

export interface RoutingResult {
  generator: 'wrk' | 'autocannon';
  /** How the ratios were taken, in words (the README prints it). */
  method: string;
  rows: RoutingRow[];
  /** `<route>.<server>` → offloop ÷ bare over the rounds, as `method` says: ≤ 1, higher is leaner. */
  ratios: Record<string, Repeated>;
  /** The same by server CPU per request (bare's ÷ offloop's), whatever the generator: survives a busy machine. */
  cpuRatios: Record<string, Repeated>;
}

export interface StarvationRow {
  strategy: string;
  pool: string;
  kernel: string;
  jobsInFlight: number;
  jobsPerSec: number;
  libuvPoolSize: number;
  idle: LatencySummary;
  loaded: LatencySummary;
  /** fs read p99 while the jobs run ÷ idle p99, measured in the same process. */
  ratio: number;
}

export interface HttpResult {
  part: 'http';
  profile: 'full' | 'quick';
  machine: Machine;
  durationS: number;
  note: string;
  server: { libuvThreads: number; workers: number; args: string[] };
  settings: Profile['http'] & { starvation: Profile['starvation'] & { jobsInFlight: number } };
  /** Where the probe and the load generator ran (bench/harness.ts), in words. */
  harness: {
    placement: string;
    text: string;
    /** What every harness process's threads but the main one ran under (bench/threads.ts; absent in older results). */
    helpers?: string;
  };
  /** The first idle baseline of the run (each load also has its own, in its runs). */
  idlePing: ProbeFigures;
  heavy: HeavyRow[];
  /**
   * The floor: the same idle-then-loaded runs with the cores kept busy by CPU-bound threads under
   * SCHED_IDLE in a process of the harness's, and no request (http.ts): about the best a strategy
   * off the loop could read on this machine at this hour (not a bound). Absent in older results.
   */
  floor?: LoadRows;
  seed: SeedRow[];
  routing: RoutingResult;
  starvation: StarvationRow[];
}

export type PartName = 'kernels' | 'http';
export const partNames: readonly PartName[] = ['kernels', 'http'];
export interface Parts {
  kernels?: KernelsResult | undefined;
  http?: HttpResult | undefined;
}

export async function writeJson(dir: string, name: string, value: unknown): Promise<string> {
  const file = join(dir, `${name}.json`);
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
  return file;
}

/** A part's figures from an earlier run, so `bench:kernels` alone still gives a full report. */
export async function readPart<P extends PartName>(dir: string, part: P): Promise<Parts[P] | undefined> {
  try {
    const value = JSON.parse(await readFile(join(dir, `${part}.json`), 'utf8')) as Parts[P] & { part?: string };
    return value.part === part ? value : undefined;
  } catch {
    return undefined;
  }
}
