import test from 'ava';
import { loadAddon } from '../src/engines/addon.js';
import { cppPool, createWorkers, type PoolStats, rustPool } from '../src/index.js';
import { poolSize } from './helpers/engines.js';

// Every pool's stats() reports, with piscina's names, what it did since it started: tasks
// completed, utilization, and run and wait time percentiles (ms). The figures are checked against
// what the test knows for certain (how many tasks ran; a task queued behind a 40 ms sleep waited
// at least that long), never against a speed.

type Pool = typeof cppPool | ReturnType<typeof createWorkers>;

const none = { p50: 0, p99: 0, max: 0 };
const idle: PoolStats = {
  ...{ threads: 0, nice: 0, policy: null, queued: 0, running: 0 },
  ...{ completed: 0, utilization: 0, runTime: none, waitTime: none },
};

/** One thread: a 40 ms sleep, three tasks queued behind it, one queued task aborted, one failure. */
async function workload(pool: Pool): Promise<void> {
  const controller = new AbortController();
  const tasks = [
    pool.sleep(40),
    pool.primes(1000),
    pool.pbkdf2('pw', 'salt', 1, 32),
    pool.blur(new Uint8Array(4), 1, 1, 1, { signal: controller.signal }), // aborted while queued
    pool.sleep(1),
  ];
  controller.abort();
  await Promise.allSettled(tasks);
}

function assertCoherent(t: import('ava').ExecutionContext, stats: PoolStats, what: string) {
  for (const times of [stats.runTime, stats.waitTime]) {
    t.true(times.p50 <= times.p99 && times.p99 <= times.max, `${what}: p50 <= p99 <= max`);
  }
  t.true(stats.utilization > 0 && stats.utilization <= 1, `${what}: utilization in (0, 1]: ${stats.utilization}`);
}

test.serial('workers: stats() counts completed tasks and reports utilization, run and wait times', async (t) => {
  const pool = createWorkers({ threads: 1, niceIncrement: 3 });
  try {
    t.deepEqual(pool.stats(), idle, 'not started');
    await workload(pool);
    const stats = pool.stats();
    t.like(stats, { threads: 1, nice: process.platform === 'linux' ? 3 : 0, policy: 'normal', queued: 0, running: 0 });
    t.is(stats.completed, 4, 'the aborted queued task never reached a thread');
    t.true(stats.runTime.max >= 40, `the 40 ms sleep ran at least 40 ms: ${stats.runTime.max}`);
    t.true(stats.waitTime.max >= 40, `the tasks behind it waited at least 40 ms: ${stats.waitTime.max}`);
    assertCoherent(t, stats, 'workers');
    await pool.runFile('/nonexistent/module.js', null).catch(() => {});
    t.is(pool.stats().completed, 5, 'a failed task counts too');
  } finally {
    await pool.close();
  }
  t.deepEqual(pool.stats(), idle, 'closed: a new pool starts from zero');
});

for (const [pool, addon] of [
  [cppPool, 'cpp'],
  [rustPool, 'rust'],
] as const) {
  test.serial(`${pool.name}: stats() has piscina's fields; counted once the addon measures them`, async (t) => {
    await pool.close();
    t.deepEqual(pool.stats(), idle, 'not started');
    pool.configure({ threads: 1 });
    try {
      await workload(pool);
      const stats = pool.stats();
      t.like(stats, { threads: 1, queued: 0, running: 0 });
      for (const key of ['completed', 'utilization'] as const) t.is(typeof stats[key], 'number', key);
      if (!('completed' in loadAddon(addon).pool.stats())) {
        t.log(`the ${addon} addon does not measure its tasks yet: zeros (native.ts's TODO)`);
        return;
      }
      t.is(stats.completed, 4, 'the aborted queued task never reached a thread');
      t.true(stats.runTime.max >= 40, `the 40 ms sleep ran at least 40 ms: ${stats.runTime.max}`);
      t.true(stats.waitTime.max >= 40, `the tasks behind it waited at least 40 ms: ${stats.waitTime.max}`);
      assertCoherent(t, stats, pool.name);
    } finally {
      await pool.close();
      pool.configure({ threads: poolSize(pool.name) });
    }
  });
}
