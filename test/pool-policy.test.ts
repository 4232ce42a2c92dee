import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import test from 'ava';
import { loadAddon } from '../src/engines/addon.js';
import { cppPool, rustPool } from '../src/index.js';
import { eventually, request, sample, startServer } from './helpers/server.js';
import { linuxPolicy, poolThreads, threads } from './helpers/threads.js';

// The dedicated pools' threads run under the configured scheduling policy (SCHED_IDLE by
// default) at the configured nice value, read back from the kernel (helpers/threads.ts).
const pools = [
  [cppPool, 'offloop-cpp'],
  [rustPool, 'offloop-rs'],
] as const;

test.serial('the pools run under SCHED_IDLE by default, else at the configured policy and nice', async (t) => {
  if (process.platform !== 'linux') return t.pass('scheduling policies are read from Linux /proc');
  const loop = threads().find((thread) => thread.tid === process.pid)!;
  for (const [engine, prefix] of pools) {
    await engine.close();
    const settings = [
      { threads: 2, nice: 10, policy: undefined }, // the default policy
      { threads: 2, nice: 7, policy: 'batch' },
      { threads: 3, nice: 5, policy: 'normal' },
      { threads: 2, nice: 3, policy: 'idle' }, // idle ignores nice, but it is set and reported
    ] as const;
    for (const { threads: count, nice, policy } of settings) {
      await engine.close();
      engine.configure({ threads: count, nice, ...(policy === undefined ? {} : { policy }) });
      await engine.noop();
      const expected = policy ?? 'idle';
      const found = await poolThreads(prefix, count);
      const what = `${engine.name} ${expected} nice ${nice}`;
      t.deepEqual(
        found.map((thread) => thread.policy),
        Array(count).fill(linuxPolicy[expected]),
        what,
      );
      t.deepEqual(
        found.map((thread) => thread.nice),
        Array(count).fill(nice),
        what,
      );
      t.like(engine.stats(), { threads: count, nice, policy: expected }, what);
    }
    await engine.close();
    t.is(engine.stats().policy, null, `${engine.name}: no pool, no policy`);
    engine.configure({ policy: 'idle', nice: 10 });
  }
  const after = threads().find((thread) => thread.tid === process.pid)!;
  t.deepEqual([after.policy, after.nice], [loop.policy, loop.nice], 'the event loop keeps its own');
});

test('setThreadPolicy() puts the calling thread, here a worker thread, under the policy and nice', async (t) => {
  if (process.platform !== 'linux') return t.pass('scheduling policies are read from Linux /proc');
  const fixture = new URL('./fixtures/thread-policy.js', import.meta.url);
  const loop = threads().find((thread) => thread.tid === process.pid)!;
  for (const addon of ['cpp', 'rust'] as const) {
    for (const [policy, nice] of [
      ['idle', 7],
      ['batch', 4],
    ] as const) {
      const worker = new Worker(fixture, { workerData: { addon, policy, nice } });
      const [{ tid, applied }] = (await once(worker, 'message')) as [{ tid: number; applied: boolean }];
      const seen = threads().find((thread) => thread.tid === tid);
      worker.postMessage('go');
      await once(worker, 'exit');
      t.true(applied, `${addon} ${policy}`);
      t.like(seen, { policy: linuxPolicy[policy], nice }, `${addon} ${policy}: the worker's own thread`);
    }
  }
  const after = threads().find((thread) => thread.tid === process.pid)!;
  t.deepEqual([after.policy, after.nice], [loop.policy, loop.nice], 'the event loop keeps its own');
});

test('configure() rejects a bad policy with a clear error, as the addons do', (t) => {
  for (const [engine] of pools) {
    t.throws(() => engine.configure({ policy: 'fast' as 'idle' }), {
      instanceOf: RangeError,
      code: 'ERR_OUT_OF_RANGE',
      message: 'The "options.policy" argument must be one of "idle", "batch", "normal". Received type string ("fast")',
    });
    t.throws(() => engine.configure({ policy: 5 as unknown as 'idle' }), {
      instanceOf: TypeError,
      code: 'ERR_INVALID_ARG_TYPE',
      message: 'The "options.policy" argument must be of type string. Received 5',
    });
  }
  for (const name of ['cpp', 'rust'] as const) {
    const { pool } = loadAddon(name);
    const start = pool.start as (...args: unknown[]) => unknown;
    t.throws(() => start(1, 10, 'fast'), {
      instanceOf: RangeError,
      code: 'ERR_OUT_OF_RANGE',
      message: 'The "policy" argument must be one of "idle", "batch", "normal". Received type string ("fast")',
    });
    t.throws(() => start(1, 10, 5), {
      instanceOf: TypeError,
      code: 'ERR_INVALID_ARG_TYPE',
      message: 'The "policy" argument must be of type string. Received 5',
    });
    const setThreadPolicy = loadAddon(name).setThreadPolicy as (...args: unknown[]) => unknown;
    t.throws(() => setThreadPolicy('fast', 10), { instanceOf: RangeError, code: 'ERR_OUT_OF_RANGE' });
    t.throws(() => setThreadPolicy(5, 10), { instanceOf: TypeError, code: 'ERR_INVALID_ARG_TYPE' });
    t.throws(() => setThreadPolicy('idle', 20), {
      instanceOf: RangeError,
      code: 'ERR_OUT_OF_RANGE',
      message: 'The "nice" argument must be an integer from 0 to 19. Received 20',
    });
  }
});

test('--pool-policy and --worker-policy batch: the server pools run under SCHED_BATCH, and it says so', async (t) => {
  if (process.platform !== 'linux') return t.pass('scheduling policies are read from Linux /proc');
  const server = await startServer([
    ...['--pool-policy', 'batch', '--pool-threads', '2', '--pool-nice', '6'],
    ...['--worker-policy', 'batch', '--workers', '2', '--worker-nice', '4'],
  ]);
  try {
    const pid = server.child.pid!;
    for (const prefix of ['offloop-cpp', 'offloop-rs']) {
      const found = await poolThreads(prefix, 2, pid);
      const expected = [
        [linuxPolicy.batch, 6],
        [linuxPolicy.batch, 6],
      ];
      t.deepEqual(
        found.map((thread) => [thread.policy, thread.nice]),
        expected,
        prefix,
      );
    }
    // Worker threads are all named "node": they are the two threads at batch and nice 4. A thread
    // takes its policy as it loads our module, before its first task: two sleeps at once load both.
    const workerThreads = () =>
      threads(pid).filter((thread) => thread.policy === linuxPolicy.batch && thread.nice === 4);
    const sleeps = [1, 2].map(() => request(`${server.url}/sleep/worker?ms=500`));
    await eventually(async () => workerThreads().length === 2);
    t.is(workerThreads().length, 2, 'the worker threads');
    for (const sleep of await Promise.all(sleeps)) t.is(sleep.status, 200);
    const loop = threads(pid).find((thread) => thread.tid === pid)!;
    t.is(loop.policy, linuxPolicy.normal, 'the event loop keeps its own');
    await eventually(async () => /native pools\s+2 threads each, batch policy, nice 6 /.test(server.output()));
    await eventually(async () => /worker pool\s+2 threads, batch policy, nice \+4 /.test(server.output()));
    const metrics = (await request(`${server.url}/metrics`)).body.toString();
    for (const pool of ['cpp-pool', 'rust-pool']) {
      t.is(sample(metrics, 'offloop_pool_info', { pool, policy: 'batch', nice: '6' }), 1, pool);
    }
    t.is(sample(metrics, 'offloop_pool_info', { pool: 'workers', policy: 'batch', nice: '4' }), 1, 'workers');
  } finally {
    t.is(await server.stop(), 0, server.output().slice(-600));
  }
});

test('--pool-policy takes idle, batch or normal; anything else is refused naming the choices', async (t) => {
  const { loadConfig } = await import('../src/server/config.js');
  t.is(loadConfig([], {}).poolPolicy, 'idle');
  t.is(loadConfig([], {}).workerPolicy, 'idle');
  t.is(loadConfig([], { OFFLOOP_WORKER_POLICY: 'normal' }).workerPolicy, 'normal');
  t.throws(() => loadConfig(['--worker-policy', 'fast'], {}), {
    message: '--worker-policy must be one of idle, batch, normal; got "fast"',
  });
  t.is(loadConfig([], { OFFLOOP_POOL_POLICY: 'normal' }).poolPolicy, 'normal');
  t.is(loadConfig(['--pool-policy', 'batch'], { OFFLOOP_POOL_POLICY: 'normal' }).poolPolicy, 'batch');
  t.throws(() => loadConfig(['--pool-policy', 'fast'], {}), {
    message: '--pool-policy must be one of idle, batch, normal; got "fast"',
  });
  t.throws(() => loadConfig([], { OFFLOOP_POOL_POLICY: 'realtime' }), {
    message: /^OFFLOOP_POOL_POLICY must be one of/,
  });
});
