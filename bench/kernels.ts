import { pbkdf2Sync as opensslPbkdf2Sync, pbkdf2 as pbkdf2Callback } from 'node:crypto';
import { promisify } from 'node:util';
import { Bench, type BenchOptions, type Fn, type FnOptions } from 'tinybench';
import { rng } from '#rng';
import { type CpuKernelName, cpuKernelNames } from '../src/engines/kernels.js';
import { cpp, cppPool, createWorkers, js, rust, rustPool, type SyncKernels } from '../src/index.js';
import { dispatchOnOneCore, dispatchRow, measureDispatch, roundTrips } from './dispatch.js';
import { describeMachine, endOfPart } from './machine.js';
import type { Profile } from './profile.js';
import type { Step } from './progress.js';
import type { DispatchRow, KernelRow, KernelsResult, OpensslRow, ScalingRow, TaskStats } from './results.js';
import { fmt } from './stats.js';

/**
 * The kernel suite (tinybench, in this process): the same inputs through every engine's
 * kernels (speed-ups over TypeScript), pbkdf2 against OpenSSL, the round-trip cost of each way
 * of leaving the loop, and how async throughput grows with tasks in flight.
 */

/** One turn of the event loop: Node frees external buffers (native blur's output) only then. */
const loopTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs one tinybench task and reduces it to the figures we keep. */
async function measure(fn: Fn, bench: BenchOptions, task: FnOptions = {}): Promise<TaskStats> {
  const b = new Bench({ throws: true, ...bench });
  b.add('task', fn, task);
  await b.run();
  const result = b.getTask('task')!.result;
  if (result.state !== 'completed') throw new Error(`tinybench task ended ${result.state}`);
  const l = result.latency;
  return { opsPerSec: 1000 / l.mean, meanMs: l.mean, p50Ms: l.p50, p99Ms: l.p99, rme: l.rme, samples: l.samplesCount };
}

const syncEngines: Record<KernelRow['engine'], SyncKernels> = { js, cpp, rust };
const engineWords: Record<KernelRow['engine'], string> = { js: 'TypeScript', cpp: 'C++', rust: 'Rust' };

export interface Plan {
  steps: Step[];
  result(): KernelsResult;
  cleanup(): Promise<void>;
}

export function kernelPlan(profile: Profile): Plan {
  const p = profile.kernels;
  const started = performance.now();
  const machine = describeMachine();
  const password = Buffer.from('correct horse battery staple');
  const salt = Buffer.from('offloop-bench-salt');
  const { width, height, radius } = p.blur;
  const pixels = rng(0x9e3779b9).bytes(width * height * 4); // seeded: every run blurs the same image
  const workers = createWorkers(); // one thread per core, as the library's default

  const sequential: BenchOptions = {
    time: p.timeMs,
    iterations: p.iterations,
    warmupTime: p.warmupMs,
    warmupIterations: p.warmupIterations,
  };
  // Kernels are called synchronously and timed alone; the loop turns between calls (untimed).
  const kernelTask: FnOptions = { async: false, afterEach: loopTurn };

  const kernels: KernelRow[] = [];
  const openssl: OpensslRow[] = [];
  const dispatch: DispatchRow[] = [];
  let dispatchOneCore: DispatchRow[] | undefined;
  const dispatchCalls = Math.round(Math.min(1000, Math.max(50, p.dispatchTimeMs / 1.5)));
  const scaling: ScalingRow[] = [];
  const steps: Step[] = [];
  const perSec = (s: TaskStats) =>
    `${fmt(s.opsPerSec)} ops/s (${fmt(s.meanMs)} ms ± ${fmt(s.rme, 2)}%, n=${s.samples})`;

  // 1. Each kernel under each engine's sync form, on the same inputs.
  // One entry per CPU kernel of the table (a new one will not compile until it has its inputs here).
  const calls: Record<CpuKernelName, (e: SyncKernels) => unknown> = {
    primes: (e) => e.primesSync(p.primesLimit),
    pbkdf2: (e) => e.pbkdf2Sync(password, salt, p.pbkdf2.iterations, p.pbkdf2.keylen),
    blur: (e) => e.blurSync(pixels, width, height, radius),
  };
  for (const kernel of cpuKernelNames) {
    for (const engine of Object.keys(syncEngines) as KernelRow['engine'][]) {
      steps.push({
        label: `kernels · ${kernel} · ${engine} (${engineWords[engine]}, ${kernel}Sync)`,
        async run() {
          const e = syncEngines[engine];
          const stats = await measure(() => calls[kernel](e), sequential, kernelTask);
          kernels.push({ kernel, engine, ...stats });
          return perSec(stats);
        },
      });
    }
  }

  // 2. pbkdf2 against OpenSSL (node:crypto), sync and async; the engines' sync rows come from 1.
  const pbkdf2Async = promisify(pbkdf2Callback);
  const { iterations, keylen } = p.pbkdf2;
  const versus: Array<Omit<OpensslRow, keyof TaskStats> & { fn: Fn; async: boolean }> = [
    {
      name: 'crypto.pbkdf2Sync',
      engine: 'openssl',
      form: 'sync',
      async: false,
      fn: () => opensslPbkdf2Sync(password, salt, iterations, keylen, 'sha256'),
    },
    {
      name: 'crypto.pbkdf2',
      engine: 'openssl',
      form: 'async',
      async: true,
      fn: () => pbkdf2Async(password, salt, iterations, keylen, 'sha256'),
    },
    {
      name: 'cpp.pbkdf2',
      engine: 'cpp',
      form: 'async',
      async: true,
      fn: () => cpp.pbkdf2(password, salt, iterations, keylen),
    },
    {
      name: 'rust.pbkdf2',
      engine: 'rust',
      form: 'async',
      async: true,
      fn: () => rust.pbkdf2(password, salt, iterations, keylen),
    },
  ];
  for (const { fn, async, ...row } of versus) {
    steps.push({
      label: `kernels · pbkdf2 vs OpenSSL · ${row.name}`,
      async run() {
        const stats = await measure(fn, sequential, { async, afterEach: loopTurn });
        openssl.push({ ...row, ...stats });
        return perSec(stats);
      },
    });
  }

  // 3. Dispatch: a round trip that does no work, one at a time, every path in rotating batches
  // (dispatch.ts): the ratio to piscina compares batches taken moments apart, so it holds still.
  const standard = roundTrips(workers);
  const describe = (rows: DispatchRow[]) =>
    rows.map((r) => `${r.name} ${fmt(r.p50Ms * 1000)} µs (÷ piscina ${fmt(r.rounds!.ratioWall.p50)})`).join(', ');
  steps.push({
    label: `kernels · dispatch · ${standard.trips.map((trip) => trip.name).join(', ')} in rotating batches`,
    async run() {
      const figures = await measureDispatch({
        paths: standard.trips,
        reference: 'workers',
        callsPerBatch: dispatchCalls,
        budgetMs: p.dispatchTimeMs * standard.trips.length,
        minRounds: 5,
        maxRounds: 1000,
      });
      dispatch.push(...figures.map((f) => dispatchRow(f, standard.trips.find((t) => t.name === f.name)!.what)));
      return describe(dispatch);
    },
  });
  steps.push({
    label: 'kernels · dispatch on one core · the same round trips in a child process pinned to one core (taskset)',
    async run() {
      const rows = await dispatchOnOneCore(p.dispatchOneCoreRounds, dispatchCalls);
      if (!rows) return 'skipped: taskset (util-linux) is not installed';
      dispatchOneCore = rows;
      return describe(rows);
    },
  });

  // 4. Scaling: async throughput with k tasks in flight (tinybench keeps k running at once).
  const asyncPrimes: Record<ScalingRow['engine'], () => Promise<unknown>> = {
    cpp: () => cpp.primes(p.scalingPrimesLimit),
    rust: () => rust.primes(p.scalingPrimesLimit),
    workers: () => workers.primes(p.scalingPrimesLimit),
  };
  for (const engine of Object.keys(asyncPrimes) as ScalingRow['engine'][]) {
    for (const inFlight of p.inFlight) {
      steps.push({
        label:
          `kernels · scaling · ${engine}.primes(${p.scalingPrimesLimit.toExponential()}) ` +
          `with ${inFlight} in flight`,
        async run() {
          let start = 0;
          let end = 0;
          let cpu = process.cpuUsage();
          const bench = new Bench({
            concurrency: 'task',
            threshold: inFlight,
            iterations: 0,
            time: p.scalingTimeMs,
            warmupTime: p.warmupMs,
            warmupIterations: Math.max(p.warmupIterations, inFlight),
            throws: true,
          });
          // Throughput is completions over the wall time of the whole window, not 1 ÷ latency.
          bench.add('task', asyncPrimes[engine], {
            async: true,
            beforeAll: (mode) => {
              if (mode === 'run') [start, cpu] = [performance.now(), process.cpuUsage()];
            },
            afterAll: (mode) => {
              if (mode === 'run') [end, cpu] = [performance.now(), process.cpuUsage(cpu)];
            },
          });
          await bench.run();
          const result = bench.getTask('task')!.result;
          if (result.state !== 'completed') throw new Error(`tinybench task ended ${result.state}`);
          const completed = result.latency.samplesCount;
          const wallMs = end - start;
          const row = {
            engine,
            inFlight,
            completed,
            wallMs,
            opsPerSec: (completed * 1000) / wallMs,
            cpuCores: (cpu.user + cpu.system) / 1000 / wallMs,
          };
          scaling.push(row);
          return (
            `${fmt(row.opsPerSec)} ops/s (${completed} in ${fmt(wallMs)} ms), ` +
            `this process used ${fmt(row.cpuCores, 2)} cores`
          );
        },
      });
    }
  }

  return {
    steps,
    result: () => ({
      part: 'kernels',
      profile: profile.name,
      machine: endOfPart(machine),
      durationS: (performance.now() - started) / 1000,
      inputs: {
        primesLimit: p.primesLimit,
        pbkdf2: p.pbkdf2,
        blur: p.blur,
        scalingPrimesLimit: p.scalingPrimesLimit,
        workerThreads: workers.threads,
      },
      shaBackend: { cpp: cpp.shaBackend, rust: rust.shaBackend },
      kernels,
      openssl,
      dispatch,
      ...(dispatchOneCore ? { dispatchOneCore } : {}),
      scaling,
    }),
    async cleanup() {
      await standard.close();
      await workers.close();
      await cppPool.close();
      await rustPool.close();
    },
  };
}
