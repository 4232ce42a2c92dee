import { spawn } from 'node:child_process';
import { once } from 'node:events';
import test, { type ExecutionContext } from 'ava';
import { firstCore } from '../bench/harness.js';
import { loadAddon, type TimeSummary } from '../src/engines/addon.js';
import { type AsyncKernels, cppPool, createWorkers, rustPool } from '../src/index.js';

// A pool runs its queue in arrival order: with one thread busy, tasks queued behind it start
// (and so, being equal, finish) in the order they were submitted — never last-in-first-out.
async function completionOrder(engine: AsyncKernels, tasks: number): Promise<number[]> {
  const order: number[] = [];
  const busy = engine.sleep(30); // holds the one thread while the others queue up
  const queued = Array.from({ length: tasks }, (_, i) => engine.primes(1000).then(() => order.push(i)));
  await Promise.all([busy, ...queued]);
  return order;
}

for (const pool of [cppPool, rustPool]) {
  test.serial(`${pool.name}: a one-thread pool runs its queue first in, first out`, async (t) => {
    await pool.close();
    pool.configure({ threads: 1 });
    try {
      t.deepEqual(await completionOrder(pool, 8), [0, 1, 2, 3, 4, 5, 6, 7]);
      t.like(pool.stats(), { threads: 1, queued: 0, running: 0 });
    } finally {
      await pool.close();
    }
  });
}

// Threads park when the queue is empty and a submission wakes one: a submission that wakes
// nobody leaves its task queued for ever, and this test then hangs. Bursts of every size up to
// twice the threads, some right after the last settled (threads still awake or just parking),
// some after a pause (every thread asleep). A race narrower than a burst may still slip past;
// native/cpp/wake_signal.h argues why there is none.
for (const pool of [cppPool, rustPool]) {
  test.serial(`${pool.name}: threads that park between bursts wake for every task`, async (t) => {
    await pool.close();
    // 'normal': SCHED_IDLE threads on a machine busy with other tests could take long to run at all.
    pool.configure({ threads: 4, policy: 'normal' });
    try {
      let submitted = 0;
      for (let burst = 0; burst < 600; burst++) {
        const size = 1 + (burst % 8);
        const tasks = Array.from({ length: size }, (_, i) => (i % 2 ? pool.primes(100) : pool.noop()));
        submitted += size;
        // A burst still pending after 20 s has lost its wake-up (each task takes microseconds): say
        // which, with the pool's state, rather than leave it to ava's timeout.
        let timer: NodeJS.Timeout | undefined;
        const stuck = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`burst ${burst} of ${size} never settled: ${JSON.stringify(pool.stats())}`)),
            20_000,
          );
        });
        await Promise.race([Promise.all(tasks), stuck]).finally(() => clearTimeout(timer));
        if (burst % 5 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
      t.like(pool.stats(), { completed: submitted, queued: 0, running: 0 });
    } finally {
      await pool.close();
    }
  });
}

test.serial('workers: a one-thread worker pool runs its queue first in, first out', async (t) => {
  const workers = createWorkers({ threads: 1 });
  try {
    t.deepEqual(await completionOrder(workers, 8), [0, 1, 2, 3, 4, 5, 6, 7]);
  } finally {
    await workers.close();
  }
});

// pool.stats(): what the pool has done since it started, measured by the addon itself.
for (const pool of [cppPool, rustPool]) {
  const ordered = (t: ExecutionContext, times: TimeSummary, what: string) =>
    t.true(0 <= times.p50 && times.p50 <= times.p99 && times.p99 <= times.max, `${what}: ${JSON.stringify(times)}`);

  test.serial(`${pool.name}: stats() counts every task that ran, with ordered run and wait times`, async (t) => {
    await pool.close();
    t.like(pool.stats(), { completed: 0, utilization: 0, runTime: { max: 0 }, waitTime: { max: 0 } });
    pool.configure({ threads: 2, policy: 'normal' });
    try {
      const tasks = 40;
      await Promise.all(Array.from({ length: tasks }, (_, i) => (i % 2 ? pool.noop() : pool.primes(10_000 * i))));
      const stats = pool.stats();
      t.is(stats.completed, tasks);
      ordered(t, stats.runTime, 'runTime');
      ordered(t, stats.waitTime, 'waitTime');
      t.true(stats.runTime.max > 0, 'primes(390000) takes some time');
      t.true(stats.utilization > 0 && stats.utilization <= 1, `utilization ${stats.utilization}`);
    } finally {
      await pool.close();
    }
    t.like(pool.stats(), { threads: 0, completed: 0 }, 'a stopped pool starts counting afresh');
  });

  test.serial(`${pool.name}: stats() shows tasks waiting longer behind a busy one-thread pool`, async (t) => {
    const waits = async (queued: boolean) => {
      await pool.close();
      pool.configure({ threads: 1, policy: 'normal' });
      try {
        if (queued) {
          await Promise.all([pool.sleep(100), ...Array.from({ length: 20 }, () => pool.noop())]);
        } else {
          for (let i = 0; i < 20; i++) await pool.noop(); // each finds the thread idle
        }
        const stats = pool.stats();
        t.is(stats.completed, queued ? 21 : 20);
        ordered(t, stats.waitTime, queued ? 'queued' : 'one at a time');
        return stats.waitTime;
      } finally {
        await pool.close();
      }
    };
    const alone = await waits(false);
    const behind = await waits(true);
    t.true(behind.p50 > alone.p50, `p50 ${behind.p50} ms behind a sleep vs ${alone.p50} ms alone`);
    t.true(behind.max > alone.max, `max ${behind.max} ms behind a sleep vs ${alone.max} ms alone`);
  });
}

/** Runs a fixture (through `prefix`, e.g. taskset) to its end: its exit code and what it printed. */
async function runFixture(name: string, prefix: string[] = [], env = process.env) {
  const fixture = new URL(`./fixtures/${name}`, import.meta.url).pathname;
  const [command, ...args] = [...prefix, process.execPath, fixture];
  const child = spawn(command!, args, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  // 'close': after 'exit', what the child printed may still be unread.
  const [code] = await once(child, 'close');
  return { code, output };
}

test('with OFFLOOP_POOL_SPIN_US set, the pools spin before parking and still settle every call once', async (t) => {
  const { code, output } = await runFixture('spinning-pool.js', [], { ...process.env, OFFLOOP_POOL_SPIN_US: '200' });
  t.is(code, 0);
  const expected = {
    primes: [168],
    outcomes: ['ok', 'ok', 'AbortError', 'AbortError', 'AbortError', 'ok', 'ok'],
    settled: 300 + 200 + 7,
    completed: 300 + 200 + 4, // the three cancelled while queued never ran
  };
  t.deepEqual(JSON.parse(output), { cpp: expected, rust: expected });
});

// A pool thread signals the JS thread after releasing its lock. Were it to signal while holding
// one that the woken JS thread then takes (as a threadsafe function does with its mutex), a JS
// thread woken on the same core would preempt it inside the lock and block on it at once: two
// waits per round trip instead of one (native/README.md, "Dispatch"). Pinned to one core, the
// count is exact: the JS thread blocks once per call, waiting for the completion.
const blocksTitle =
  "cpp-pool/rust-pool: on one core the JS thread blocks once per round trip, never on the pool thread's lock";
const core = process.platform === 'linux' ? firstCore() : undefined;
(core !== undefined ? test : test.skip)(
  core !== undefined ? blocksTitle : `${blocksTitle}: skipped, needs Linux and taskset (apt-get install util-linux)`,
  async (t) => {
    const { code, output } = await runFixture('signal-blocks.js', ['taskset', '-c', String(core)]);
    t.is(code, 0);
    const blocks = JSON.parse(output) as Record<'cpp' | 'rust', number>;
    for (const [name, perCall] of Object.entries(blocks)) {
      t.true(perCall >= 0.9 && perCall < 1.5, `${name}: the JS thread blocked ${perCall} times per call (expected 1)`);
    }
  },
);

// Settling may run user code (the AbortError is built from the global DOMException), which may
// stop the pool in the middle of a batch of completions: the rest of the batch, the jobs done
// since and those still queued all settle, once each, as aborted.
for (const name of ['cpp', 'rust'] as const) {
  test.serial(`${name} addon: a pool stopped while it settles a batch still settles every call once`, async (t) => {
    const { pool, createCancelToken, cancel } = loadAddon(name);
    const Real = globalThis.DOMException;
    let built = 0;
    globalThis.DOMException = class extends Real {
      constructor(message?: string, name?: string) {
        super(message, name);
        if (built++ === 0) pool.stop();
      }
    } as typeof DOMException;
    try {
      pool.start(1, 0, 'normal');
      const token = createCancelToken();
      const calls = [pool.sleep(60_000, token), ...Array.from({ length: 20 }, () => pool.noop())];
      while (pool.stats().running === 0) await new Promise((resolve) => setImmediate(resolve));
      cancel(token); // the sleep stops, and the noops queued behind it run and join its batch
      const outcomes = await Promise.allSettled(calls);
      t.deepEqual(
        outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).name : 'ok')),
        Array(calls.length).fill('AbortError'),
      );
      t.is(pool.stats().threads, 0, 'stopped');
      t.is(await pool.noop(), undefined, 'a later call starts a fresh pool');
    } finally {
      globalThis.DOMException = Real;
      pool.stop();
    }
  });
}
