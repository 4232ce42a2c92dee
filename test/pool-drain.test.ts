import test from 'ava';
import { cppPool, createWorkers, rustPool } from '../src/index.js';
import { poolSize } from './helpers/engines.js';

// drained(): every pool's promise that resolves once nothing is queued or running — at once when
// idle, never before the last task has settled (and its callbacks have run).

type Pool = typeof cppPool | ReturnType<typeof createWorkers>;
const pools: [string, () => Pool][] = [
  ['workers', () => createWorkers({ threads: 1 })],
  ['cpp-pool', () => cppPool],
  ['rust-pool', () => rustPool],
];

/** Whether `promise` settles before a callback queued now with setImmediate runs. */
const settlesAtOnce = (promise: Promise<unknown>) =>
  Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setImmediate(() => resolve(false)))]);

for (const [name, make] of pools) {
  test.serial(`${name}: drained() resolves at once when the pool is idle or never started`, async (t) => {
    const pool = make();
    await pool.close();
    t.true(await settlesAtOnce(pool.drained()), 'never started');
    await pool.noop();
    t.true(await settlesAtOnce(pool.drained()), 'started, idle');
    await pool.close();
  });

  test.serial(`${name}: drained() resolves only after the last task settles, queued ones included`, async (t) => {
    const pool = make();
    if ('configure' in pool) {
      await pool.close();
      pool.configure({ threads: 1 });
    }
    try {
      const order: string[] = [];
      const tasks = [pool.sleep(30), pool.primes(1000), pool.sleep(10)].map((task, i) =>
        task.then(() => order.push(`task ${i}`)),
      );
      const { queued, running } = pool.stats();
      t.true(queued >= 2 && queued + running === 3, 'one thread: two wait, at least');
      const drained = pool.drained().then(() => order.push('drained'));
      t.false(await settlesAtOnce(drained), 'not while tasks are pending');
      await Promise.all([drained, ...tasks]);
      t.deepEqual(order, ['task 0', 'task 1', 'task 2', 'drained']);
      t.like(pool.stats(), { queued: 0, running: 0 });
    } finally {
      await pool.close();
      if ('configure' in pool) pool.configure({ threads: poolSize(name) });
    }
  });

  test.serial(`${name}: a task started as the last one settles keeps drained() waiting`, async (t) => {
    const pool = make();
    try {
      const order: string[] = [];
      let second: Promise<unknown> | undefined;
      const first = pool.sleep(20).then(() => {
        order.push('first');
        second = pool.sleep(20).then(() => order.push('second'));
      });
      await pool.drained();
      order.push('drained');
      await first;
      await second;
      t.deepEqual(order, ['first', 'second', 'drained']);
    } finally {
      await pool.close();
    }
  });

  test.serial(`${name}: drained() resolves when every task failed or was aborted`, async (t) => {
    const pool = make();
    try {
      const controller = new AbortController();
      const outcomes = Promise.allSettled([
        pool.sleep(60_000, { signal: controller.signal }),
        pool.sleep(60_000, { signal: controller.signal }),
        pool.blur(new Uint8Array(4), 1, 1, 1, { signal: AbortSignal.abort() }),
      ]);
      const drained = pool.drained();
      controller.abort();
      await drained;
      t.deepEqual(
        (await outcomes).map((outcome) => outcome.status),
        ['rejected', 'rejected', 'rejected'],
      );
      t.like(pool.stats(), { queued: 0, running: 0 });
    } finally {
      await pool.close();
    }
  });
}
