import test from 'ava';
import { readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpp, cppPool, rust, rustPool, type AsyncKernels } from '../src/index.js';
import { poolSize } from './helpers/engines.js';

// libuv's threadpool also serves fs, dns.lookup, async crypto and zlib. Fill it with long native
// jobs and an fs read waits behind them; run the same jobs on an addon's own pool and it does not.
// Shown by ordering alone: does the read finish before the first job does? (After the first,
// the jobs and the read's remaining steps race for the freed threads, so only the first counts.)
async function firstToFinish(engine: AsyncKernels, jobs: number): Promise<string> {
  const order: string[] = [];
  const running = Array.from({ length: jobs }, () => engine.sleep(600).then(() => order.push('job')));
  await new Promise((resolve) => setImmediate(resolve)); // the jobs are queued and running
  const read = readFile(new URL(import.meta.url)).then(() => order.push('fs.readFile'));
  await Promise.all([...running, read]);
  return order[0]!;
}

const libuvThreads = poolSize('cpp');

for (const [engine, pooled] of [[cpp, cppPool], [rust, rustPool]] as const) {
  test.serial(`${engine.name}: an fs read waits behind jobs that fill libuv's pool`, async (t) => {
    t.is(await firstToFinish(engine, libuvThreads), 'job');
  });

  test.serial(`${pooled.name}: the same jobs on the addon's own pool leave fs free`, async (t) => {
    t.is(await firstToFinish(pooled, libuvThreads), 'fs.readFile');
  });
}

// Linux gives each thread its own nice value: the pool threads must carry the configured one.
test.serial('the pools run their threads at the configured nice value, the loop at its own', async (t) => {
  if (process.platform !== 'linux') return t.pass('per-thread nice is Linux-only');
  const loopNice = threads().find((thread) => thread.tid === process.pid)!.nice;
  for (const [engine, prefix] of [[cppPool, 'offloop-cpp'], [rustPool, 'offloop-rs']] as const) {
    await engine.close();
    engine.configure({ threads: 3, nice: 7 });
    await engine.noop();
    t.deepEqual(threads().filter((thread) => thread.name.startsWith(prefix)).map((thread) => thread.nice), [7, 7, 7], engine.name);
    t.like(engine.stats(), { threads: 3, nice: 7 });
    await engine.close();
    engine.configure({ threads: poolSize(engine.name), nice: 10 });
  }
  t.is(threads().find((thread) => thread.tid === process.pid)!.nice, loopNice);
});

/** This process's threads: id, name and nice value (field 19 of /proc/self/task/<tid>/stat). */
function threads(): { tid: number; name: string; nice: number }[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3
    return { tid: Number(tid), name: readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(), nice: Number(fields[16]) };
  });
}
