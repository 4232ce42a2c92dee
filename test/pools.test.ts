import test from 'ava';
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

test.serial('workers: a one-thread worker pool runs its queue first in, first out', async (t) => {
  const workers = createWorkers({ threads: 1 });
  try {
    t.deepEqual(await completionOrder(workers, 8), [0, 1, 2, 3, 4, 5, 6, 7]);
  } finally {
    await workers.close();
  }
});
