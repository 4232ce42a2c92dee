/**
 * Pool starvation, measured in a process of its own (`fork`ed by starvation.ts): libuv's pool
 * size is fixed when a process starts, and the harness's own pool must not be the one we fill.
 *
 * It reads a small file with fs.promises.readFile at a fixed rate (open loop: a new read starts
 * every interval whether or not the last one finished), first with the pool idle, then while a
 * strategy keeps `jobs` tasks in flight — more than its pool has threads, so the pool is always
 * full and has a queue. readFile is four requests on libuv's pool (open, fstat, read, close): when
 * cpp or rust jobs hold every libuv thread, each waits its turn behind them; a strategy with a
 * pool of its own leaves libuv's free. Sends a StarvationRow to the parent and exits.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createWorkers } from '../src/index.js';
import { createStrategies, type StrategyName } from '../src/server/strategies.js';
import { libuvPoolSize } from './machine.js';
import type { StarvationRow } from './results.js';
import { summarize } from './stats.js';

export interface StarveSettings {
  strategy: string;
  idleS: number;
  loadedS: number;
  intervalMs: number;
  jobs: number;
  primesLimit: number;
  pbkdf2Iterations: number;
}

async function openLoopReads(file: string, durationS: number, intervalMs: number): Promise<number[]> {
  const latencies: number[] = [];
  const pending = new Set<Promise<void>>();
  const until = performance.now() + durationS * 1000;
  while (performance.now() < until) {
    const started = performance.now();
    const read: Promise<void> = readFile(file).then(() => {
      latencies.push(performance.now() - started);
      pending.delete(read);
    });
    pending.add(read);
    await delay(intervalMs);
  }
  await Promise.all(pending);
  return latencies;
}

async function main(settings: StarveSettings): Promise<StarvationRow> {
  // The worker pool is never started here (no strategy we fill runs on it); the table needs one.
  const strategies = createStrategies(createWorkers({ threads: 1 }));
  const strategy = strategies.get(settings.strategy as StrategyName);
  if (!strategy) throw new Error(`no strategy "${settings.strategy}" in the table`);
  // CPU jobs of about the same length whichever kernel the strategy has.
  const job = strategy.kernels.includes('primes')
    ? { kernel: 'primes' as const, args: [settings.primesLimit] as [number] }
    : {
        kernel: 'pbkdf2' as const,
        args: [Buffer.from('password'), Buffer.from('salt'), settings.pbkdf2Iterations, 32] as [
          Buffer,
          Buffer,
          number,
          number,
        ],
      };
  const run = (signal?: AbortSignal) => strategy.run(job.kernel, job.args as never, signal);

  const dir = await mkdtemp(join(tmpdir(), 'offloop-starve-'));
  const file = join(dir, 'small.txt');
  await writeFile(file, 'pong\n'.repeat(200)); // 1 KB: one read, no disk wait (page cache)
  try {
    await run(); // loads the addon and warms the path, outside the measurement
    await openLoopReads(file, 0.05, settings.intervalMs);
    const idle = await openLoopReads(file, settings.idleS, settings.intervalMs);

    const stop = new AbortController();
    let completed = 0;
    const fill = async () => {
      while (!stop.signal.aborted) {
        await run(stop.signal).then(
          () => completed++,
          () => {},
        );
      }
    };
    const fillers = Array.from({ length: settings.jobs }, fill);
    await delay(50); // every filler has queued its first job
    const before = completed;
    const started = performance.now();
    const loaded = await openLoopReads(file, settings.loadedS, settings.intervalMs);
    const jobsPerSec = ((completed - before) * 1000) / (performance.now() - started);
    stop.abort(); // cancels queued jobs and stops running ones at their next poll
    await Promise.all(fillers);

    const idleSummary = summarize(idle);
    const loadedSummary = summarize(loaded);
    return {
      strategy: strategy.name,
      pool: strategy.pool,
      kernel: job.kernel,
      jobsInFlight: settings.jobs,
      jobsPerSec,
      libuvPoolSize: libuvPoolSize(),
      idle: idleSummary,
      loaded: loadedSummary,
      ratio: loadedSummary.p99 / idleSummary.p99,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main(JSON.parse(process.argv[2]!) as StarveSettings).then(
  (row) => process.send!(row, () => process.exit(0)),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
