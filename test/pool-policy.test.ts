import { readdirSync, readFileSync } from 'node:fs';
import test from 'ava';
import { loadAddon } from '../src/engines/addon.js';
import { cppPool, rustPool } from '../src/index.js';

// The dedicated pools' threads run under the configured scheduling policy (SCHED_IDLE by
// default) at the configured nice value, read back from the kernel: /proc/self/task/<tid>/stat,
// field 41 (policy: SCHED_OTHER 0, SCHED_BATCH 3, SCHED_IDLE 5) and field 19 (nice).
const linuxPolicy = { normal: 0, batch: 3, idle: 5 } as const;

interface Thread {
  tid: number;
  name: string;
  nice: number;
  policy: number;
}

function threads(): Thread[] {
  const found: Thread[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3
      const name = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      found.push({ tid: Number(tid), name, nice: Number(fields[16]), policy: Number(fields[38]) });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return found;
}

/** The pool's threads, once all `count` of them exist (each names itself when it starts). */
async function poolThreads(prefix: string, count: number): Promise<Thread[]> {
  for (;;) {
    const found = threads().filter((thread) => thread.name.startsWith(prefix));
    if (found.length >= count) return found;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

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
  }
});
