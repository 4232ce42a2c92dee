import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import test from 'ava';
import { type AsyncKernels, cpp, cppPool, rust, rustPool } from '../src/index.js';
import { createServer } from '../src/server/app.js';
import { poolSize } from './helpers/engines.js';
import { startServer } from './helpers/server.js';

// libuv's threadpool also serves fs, dns.lookup, async crypto and zlib. Fill it with long native
// jobs and an fs read waits behind them; run the same jobs on an addon's own pool and it does not.
// Shown by ordering alone: does the read finish before the first job does? (After the first,
// the jobs and the read's remaining steps race for the freed threads, so only the first counts.)
async function firstToFinish(engine: AsyncKernels, jobs: number): Promise<string> {
  const order: string[] = [];
  // 1.5 s: longer than a free pool takes to read a small file on any machine, however busy.
  const running = Array.from({ length: jobs }, () => engine.sleep(1500).then(() => order.push('job')));
  await new Promise((resolve) => setImmediate(resolve)); // the jobs are queued and running
  const read = readFile(new URL(import.meta.url)).then(() => order.push('fs.readFile'));
  await Promise.all([...running, read]);
  return order[0]!;
}

const libuvThreads = poolSize('cpp');

for (const [engine, pooled] of [
  [cpp, cppPool],
  [rust, rustPool],
] as const) {
  test.serial(`${engine.name}: an fs read waits behind jobs that fill libuv's pool`, async (t) => {
    t.is(await firstToFinish(engine, libuvThreads), 'job');
  });

  test.serial(`${pooled.name}: the same jobs on the addon's own pool leave fs free`, async (t) => {
    t.is(await firstToFinish(pooled, libuvThreads), 'fs.readFile');
  });
}

// Linux gives each thread its own nice value: the pool threads must carry the configured one.
// A pool starts its threads asynchronously, so each check first waits until all of them exist.
const linux = process.platform === 'linux';
const prefixes = [
  [cppPool, 'offloop-cpp'],
  [rustPool, 'offloop-rs'],
] as const;

test.serial("the dedicated pools' defaults: one thread per core, at nice 10", async (t) => {
  if (!linux) return t.pass('per-thread nice is Linux-only');
  for (const [engine, prefix] of prefixes) {
    await engine.close();
    await engine.noop();
    const pool = await poolThreads('self', prefix, availableParallelism(), 10);
    t.deepEqual(
      pool.map((thread) => thread.nice),
      pool.map(() => 10),
      `${engine.name}: default nice`,
    );
    t.like(engine.stats(), { threads: availableParallelism(), nice: 10 });
  }
});

test.serial('the pools run their threads at the configured nice value, the loop at its own', async (t) => {
  if (!linux) return t.pass('per-thread nice is Linux-only');
  const loopNice = threads('self').find((thread) => thread.tid === process.pid)!.nice;
  for (const [engine, prefix] of prefixes) {
    await engine.close();
    engine.configure({ threads: 3, nice: 7 });
    await engine.noop();
    t.deepEqual(
      (await poolThreads('self', prefix, 3, 7)).map((thread) => thread.nice),
      [7, 7, 7],
      engine.name,
    );
    t.like(engine.stats(), { threads: 3, nice: 7 });
    await engine.close();
    engine.configure({ threads: poolSize(engine.name), nice: 10 });
  }
  t.is(threads('self').find((thread) => thread.tid === process.pid)!.nice, loopNice);
});

test.serial('createServer runs the pools at nice 10 by default, and at its poolNice when given', async (t) => {
  if (!linux) return t.pass('per-thread nice is Linux-only');
  for (const [poolNice, expected] of [
    [undefined, 10],
    [4, 4],
  ] as const) {
    const server = await createServer({
      logLevel: 'warn',
      port: 0,
      host: '127.0.0.1',
      workers: 1,
      poolThreads: 2,
      ...(poolNice === undefined ? {} : { poolNice }),
    });
    try {
      for (const [engine, prefix] of prefixes) {
        const nices = (await poolThreads('self', prefix, 2, expected)).map((thread) => thread.nice);
        t.deepEqual(nices, [expected, expected], `${engine.name} with poolNice ${String(poolNice)}`);
      }
    } finally {
      await server.close();
    }
  }
});

test.serial('the server started with --pool-nice 3 runs its pools at nice 3', async (t) => {
  if (!linux) return t.pass('per-thread nice is Linux-only');
  const server = await startServer(['--pool-nice', '3', '--pool-threads', '2', '--workers', '1']);
  try {
    for (const prefix of ['offloop-cpp', 'offloop-rs']) {
      const nices = (await poolThreads(server.child.pid!, prefix, 2, 3)).map((thread) => thread.nice);
      t.deepEqual(nices, [3, 3], `${prefix} threads of the server process`);
    }
  } finally {
    await server.stop();
  }
});

/** A process's threads: id, name and nice value (field 19 of /proc/<pid>/task/<tid>/stat). */
function threads(pid: number | 'self'): { tid: number; name: string; nice: number }[] {
  const task = `/proc/${pid}/task`;
  return readdirSync(task).flatMap((tid) => {
    try {
      const stat = readFileSync(`${task}/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3
      return [{ tid: Number(tid), name: readFileSync(`${task}/${tid}/comm`, 'utf8').trim(), nice: Number(fields[16]) }];
    } catch {
      return []; // the thread ended while we read
    }
  });
}

/**
 * The threads named `prefix…`, once exactly `count` exist and each has set its nice value to
 * `nice`: a pool starts its threads asynchronously (after its first task only one is sure to be
 * there), and each thread names itself before it renices itself. Tries for 30 s or more; then returns
 * what it sees, so that a wrong nice value fails the caller's assertion with the values.
 */
async function poolThreads(pid: number | 'self', prefix: string, count: number, nice: number) {
  let found: ReturnType<typeof threads> = [];
  // A generous bound (a loaded machine may start threads slowly): only a wrong value waits it out.
  for (let tries = 0; tries < 3000; tries++) {
    found = threads(pid).filter((thread) => thread.name.startsWith(prefix));
    if (found.length === count && found.every((thread) => thread.nice === nice)) return found;
    await delay(10);
  }
  if (found.length === count) return found;
  throw new Error(`expected ${count} ${prefix}* threads in /proc/${pid}/task, found ${found.length} after 3000 tries`);
}
