import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CpuKernelName } from '../src/engines/kernels.js';
import type { CpuUse } from './cpu.js';
import type { DispatchFigures } from './dispatch.js';
import type { Machine } from './machine.js';
import type { Profile } from './profile.js';
import type { LatencySummary } from './stats.js';

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

export interface HeavyRow {
  route: 'primes' | 'pbkdf2';
  strategy: string;
  /** The server's own elapsedMs for this size: the median of 3 requests sent one at a time. */
  kernelMs: number;
  load: LoadFigures;
  ping: ProbeFigures;
  /** ping p99 under this load ÷ the idle ping p99 of the same run. */
  pingP99Ratio: number;
  cpu: CpuUse;
}

export interface SeedRow {
  path: string;
  load: LoadFigures;
  ping: ProbeFigures;
  pingP99Ratio: number;
  cpu: CpuUse;
}

export interface RoutingRow {
  server: 'offloop' | 'bare-uws';
  round: number;
  reqPerSec: number;
  ok: number;
  non2xx: number;
  cpu: CpuUse;
  /** Server CPU per answered request: independent of how fast the load generator could go. */
  serverCpuUsPerReq: number;
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
  idlePing: ProbeFigures;
  heavy: HeavyRow[];
  seed: SeedRow[];
  routing: RoutingRow[];
  /** offloop's best /ping req/s ÷ the bare server's best, over the alternating rounds (summary's routing_overhead). */
  routingOverhead: number;
  /** offloop's lowest server CPU per /ping ÷ the bare server's: the same overhead, seen from the CPU. */
  routingCpuRatio: number;
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
