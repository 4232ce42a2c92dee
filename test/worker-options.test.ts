import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { createWorkers, type PoolPolicy, type WorkerPoolOptions } from '../src/index.js';
import { linuxPolicy, threads } from './helpers/threads.js';

// The worker pool's piscina options: niceIncrement (applied by each worker thread to itself,
// read back from the kernel), minThreads and idleTimeout, and their validation.

const threadSelf = fileURLToPath(new URL('./fixtures/thread-self.js', import.meta.url));

/** The kernel thread of each of a pool's `count` threads: one task per thread, held until all run. */
async function workerTids(pool: ReturnType<typeof createWorkers>, count: number): Promise<number[]> {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const tids = Array.from({ length: count }, () => pool.runFile<number>(threadSelf, gate));
  await until(() => pool.stats().running === count);
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  return Promise.all(tids);
}

test.serial('niceIncrement and policy: each worker thread lowers itself; the event loop keeps its own', async (t) => {
  if (process.platform !== 'linux') return t.pass('thread priorities are read from Linux /proc');
  const loop = threads().find((thread) => thread.tid === process.pid)!;
  // policy 'normal' is os.setPriority() from the thread; the others go through the addon.
  const cases: [PoolPolicy, number][] = [
    ['normal', 0],
    ['normal', 7],
    ['normal', 19],
    ['idle', 0],
    ['batch', 5],
  ];
  for (const [policy, niceIncrement] of cases) {
    const pool = createWorkers({ threads: 2, niceIncrement, policy });
    try {
      const tids = await workerTids(pool, 2);
      t.is(new Set(tids).size, 2, 'two threads');
      t.false(tids.includes(process.pid));
      const found = threads().filter((thread) => tids.includes(thread.tid));
      t.is(found.length, tids.length);
      const expected = [Math.min(19, loop.nice + niceIncrement), linuxPolicy[policy]];
      t.deepEqual(
        found.map((thread) => [thread.nice, thread.policy]),
        found.map(() => expected),
        `${policy}, niceIncrement ${niceIncrement}`,
      );
      t.like(pool.stats(), { threads: 2, nice: niceIncrement, policy });
    } finally {
      await pool.close();
    }
  }
  const after = threads().find((thread) => thread.tid === process.pid)!;
  t.deepEqual([after.nice, after.policy], [loop.nice, loop.policy], 'the event loop is untouched');
});

test.serial('minThreads and idleTimeout: threads beyond minThreads stop once idle that long', async (t) => {
  if (process.platform !== 'linux') return t.pass('threads are told apart by their Linux /proc entries');
  const pool = createWorkers({ threads: 2, minThreads: 0, idleTimeout: 20 });
  try {
    t.is(pool.stats().threads, 0, 'not started');
    t.is(new Set(await workerTids(pool, 2)).size, 2, 'two tasks at once ran on two threads');
    await until(() => pool.stats().threads === 0);
    t.is(await pool.primes(1000), 168, 'and start again for the next task');
  } finally {
    await pool.close();
  }
  const kept = createWorkers({ threads: 2, idleTimeout: 1 }); // minThreads defaults to threads
  try {
    await Promise.all([kept.noop(), kept.noop()]);
    await delay(50);
    t.is(kept.stats().threads, 2, 'minThreads = threads: none stops');
  } finally {
    await kept.close();
  }
});

test('bad pool options are TypeErrors and RangeErrors naming the option', (t) => {
  const cases: [WorkerPoolOptions, 'TypeError' | 'RangeError', string][] = [
    [{ niceIncrement: '5' as never }, 'TypeError', 'options.niceIncrement'],
    [{ niceIncrement: -1 }, 'RangeError', 'options.niceIncrement'],
    [{ niceIncrement: 20 }, 'RangeError', 'options.niceIncrement'],
    [{ niceIncrement: 1.5 }, 'RangeError', 'options.niceIncrement'],
    [{ idleTimeout: null as never }, 'TypeError', 'options.idleTimeout'],
    [{ idleTimeout: -1 }, 'RangeError', 'options.idleTimeout'],
    [{ idleTimeout: Number.NaN }, 'RangeError', 'options.idleTimeout'],
    [{ minThreads: 3, threads: 2 }, 'RangeError', 'options.minThreads'],
    [{ minThreads: -1 }, 'RangeError', 'options.minThreads'],
    [{ minThreads: 'all' as never }, 'TypeError', 'options.minThreads'],
    [{ threads: 0 }, 'RangeError', 'options.threads'],
    [{ maxQueue: 1.5 }, 'RangeError', 'options.maxQueue'],
    [{ closeTimeout: '1s' as never }, 'TypeError', 'options.closeTimeout'],
    [{ policy: 'fast' as never }, 'RangeError', 'options.policy'],
    [{ policy: 5 as never }, 'TypeError', 'options.policy'],
    [{ onWorkerExit: 'log' as never }, 'TypeError', 'options.onWorkerExit'],
  ];
  for (const [options, kind, name] of cases) {
    const error = t.throws(() => createWorkers(options), {
      instanceOf: kind === 'TypeError' ? TypeError : RangeError,
      code: kind === 'TypeError' ? 'ERR_INVALID_ARG_TYPE' : 'ERR_OUT_OF_RANGE',
    });
    t.true(error?.message.startsWith(`The "${name}" argument must be`), error?.message);
    t.is((error as unknown as { argument: string }).argument, name);
  }
  t.is(createWorkers({ minThreads: 0, idleTimeout: 0, niceIncrement: 19 }).threads > 0, true, 'the bounds are valid');
});

/** Waits for a condition the pool's stats() will show (a generous bound: a hang fails with a message). */
async function until(check: () => boolean, withinMs = 30_000): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`still false after ${withinMs} ms: ${check.toString()}`);
    await delay(2);
  }
}
