#!/usr/bin/env node
/**
 * One point of the pools' scaling past 2 cores: ENGINE (cpp-pool | rust-pool | cpp | workers) with K
 * threads and K calls of primes(LIMIT) in flight for SECONDS; prints { engine, k, opsPerSec, cpuCores }
 * as JSON. For libuv's pool (cpp) set UV_THREADPOOL_SIZE=K. The README's 16-core table came from
 *   for e in cpp-pool rust-pool cpp workers; do for k in 1 2 4 8 16; do
 *     UV_THREADPOOL_SIZE=$k node scripts/scale-cores.mjs $e $k 1.5 1e7; done; done
 * (twice), raw in bench/device/scaling-16-cores.jsonl.
 */
const [engine, kText, secondsText = '1.5', limitText = '1e7'] = process.argv.slice(2);
const k = Number(kText);
const seconds = Number(secondsText);
const limit = Number(limitText);
if (!['cpp-pool', 'rust-pool', 'cpp', 'workers'].includes(engine) || !(k >= 1 && k <= 256) || !(seconds > 0)) {
  console.error('usage: node scripts/scale-cores.mjs cpp-pool|rust-pool|cpp|workers K [SECONDS] [LIMIT]');
  process.exit(2);
}
const lib = await import(new URL('../dist/src/index.js', import.meta.url));
let run,
  close = async () => {};
if (engine === 'cpp-pool' || engine === 'rust-pool') {
  const pool = engine === 'cpp-pool' ? lib.cppPool : lib.rustPool;
  pool.configure({ threads: k });
  run = () => pool.primes(limit);
  close = () => pool.close();
} else if (engine === 'cpp') {
  run = () => lib.cpp.primes(limit); // UV_THREADPOOL_SIZE=k from the driver
} else {
  const w = lib.createWorkers({ threads: k });
  run = () => w.primes(limit);
  close = () => w.close();
}
// warm-up: every thread started, code compiled
await Promise.all(Array.from({ length: k * 2 }, run));
let done = 0,
  stop = false;
const t0 = performance.now(),
  c0 = process.cpuUsage();
const loop = async () => {
  while (!stop) {
    await run();
    done++;
  }
};
const loops = Array.from({ length: k }, loop);
setTimeout(() => {
  stop = true;
}, seconds * 1000);
await Promise.all(loops);
const wall = (performance.now() - t0) / 1000,
  cpu = process.cpuUsage(c0);
console.log(JSON.stringify({ engine, k, opsPerSec: done / wall, cpuCores: (cpu.user + cpu.system) / 1e6 / wall }));
await close();
process.exit(0);
