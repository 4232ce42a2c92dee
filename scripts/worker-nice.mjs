#!/usr/bin/env node
/**
 * What a worker's niceIncrement buys the event loop, measured in what survives a shared machine:
 * the scheduler's own accounting (/proc/self/task/<tid>/schedstat: ns on the CPU, ns waiting on
 * a runqueue, slices run), not wall-clock latency.
 *
 * One process pinned to one CPU (run it under `taskset -c N`): the event loop wakes every 2 ms
 * for ~50 µs of work (a /ping), while `--workers` worker threads (default 1, so one per core as
 * the server's pool runs) compute primes without pause. For each niceIncrement the windows
 * alternate (A B C D A B C D …), and the report gives the medians over the rounds of:
 *   loop wait/wake  — ns the loop waited for the CPU each time it became runnable
 *   loop share      — the loop's CPU ÷ all CPU our threads got in the window
 *   worker share    — the workers' CPU ÷ the same (what the heavy route keeps)
 *   delay p99       — the loop's timer lateness (perf_hooks; wall-clock, so noisy here)
 * Needs `npx tsc -p tsconfig.json` first (it runs dist/). Linux only.
 *
 *   taskset -c 1 node scripts/worker-nice.mjs [--nice none,0,5,10,19] [--rounds 5] [--window-ms 2000] [--ping-us 50]
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { createWorkers } from '../dist/src/index.js';

const { values } = parseArgs({
  options: {
    nice: { type: 'string', default: 'none,0,5,10,19' },
    rounds: { type: 'string', default: '5' },
    'window-ms': { type: 'string', default: '2000' },
    workers: { type: 'string', default: '1' },
    'ping-us': { type: 'string', default: '50' },
  },
});
// 'none': no worker at all, the baseline (what the rest of the machine costs the loop); 'idle':
// workers at nice 0 moved to SCHED_IDLE from outside (`chrt --idle`), for comparison: JavaScript
// cannot set a thread's policy itself.
const nices = values.nice.split(',').map((n) => (n === 'none' || n === 'idle' ? n : Number(n)));
const pingNs = BigInt(Number(values['ping-us']) * 1000);
const rounds = Number(values.rounds);
const windowMs = Number(values['window-ms']);
const workerCount = Number(values.workers);
const threadSelf = new URL('../dist/test/fixtures/thread-self.js', import.meta.url);

/** [ns on CPU, ns waiting on a runqueue, slices] of one thread of this process. */
const schedstat = (tid) => readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
const sum = (a, b) => a.map((x, i) => x + b[i]);
const minus = (a, b) => a.map((x, i) => x - b[i]);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** --ping-us of work on the loop every 2 ms: a stand-in for answering /ping (or, larger, a flood). */
function startPings() {
  const timer = setInterval(() => {
    const until = process.hrtime.bigint() + pingNs;
    while (process.hrtime.bigint() < until);
  }, 2);
  return () => clearInterval(timer);
}

/** A pool at `niceIncrement` whose threads compute until stopped; resolves to their tids. */
async function busyPool(niceIncrement) {
  const pool = createWorkers({ threads: workerCount, niceIncrement: niceIncrement === 'idle' ? 0 : niceIncrement });
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const tids = Array.from({ length: workerCount }, () => pool.runFile(threadSelf, gate));
  while (pool.stats().running < workerCount) await delay(1);
  Atomics.store(gate, 0, 1);
  Atomics.notify(gate, 0);
  const found = await Promise.all(tids);
  if (niceIncrement === 'idle') for (const tid of found) execFileSync('chrt', ['--idle', '-p', '0', String(tid)]);
  let running = true;
  const spin = async () => {
    while (running) await pool.primes(3_000_000);
  };
  const spinning = Array.from({ length: workerCount }, spin);
  return {
    tids: found,
    async stop() {
      running = false;
      await Promise.all(spinning);
      await pool.close();
    },
  };
}

const noPool = { tids: [], stop: async () => {} };

async function window(niceIncrement) {
  const pool = niceIncrement === 'none' ? noPool : await busyPool(niceIncrement);
  const stopPings = startPings();
  await delay(200); // settle
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  const loopBefore = schedstat(process.pid);
  const workersBefore = pool.tids.map(schedstat).reduce(sum, [0, 0, 0]);
  await delay(windowMs);
  const loop = minus(schedstat(process.pid), loopBefore);
  const workers = minus(pool.tids.map(schedstat).reduce(sum, [0, 0, 0]), workersBefore);
  histogram.disable();
  stopPings();
  await pool.stop();
  const total = loop[0] + workers[0];
  return {
    waitPerWake: loop[1] / Math.max(1, loop[2]),
    loopShare: loop[0] / total,
    workerShare: workers[0] / total,
    delayP99: histogram.percentile(99) / 1e6,
  };
}

const results = new Map(nices.map((n) => [n, []]));
for (let round = 0; round < rounds; round++) {
  for (const n of round % 2 ? [...nices].reverse() : nices) results.get(n).push(await window(n));
}
const cpus = readFileSync('/proc/self/status', 'utf8').match(/Cpus_allowed_list:\s*(.+)/)?.[1];
console.log(
  `CPUs ${cpus}; ${workerCount} busy worker(s); the loop works ${values['ping-us']} µs every 2 ms; ` +
    `${rounds} rounds of ${windowMs} ms; medians (min..max)`,
);
console.log('niceIncrement  loop wait/wake µs   loop share      worker share    delay p99 ms (wall)');
const cell = (xs, f) => `${f(median(xs))} (${f(Math.min(...xs))}..${f(Math.max(...xs))})`;
for (const [n, rs] of results) {
  const us = (x) => (x / 1000).toFixed(0);
  const pct = (x) => `${(x * 100).toFixed(1)}%`;
  console.log(
    [
      String(n).padEnd(13),
      cell(
        rs.map((r) => r.waitPerWake),
        us,
      ).padEnd(19),
      cell(
        rs.map((r) => r.loopShare),
        pct,
      ).padEnd(15),
      cell(
        rs.map((r) => r.workerShare),
        pct,
      ).padEnd(15),
      cell(
        rs.map((r) => r.delayP99),
        (x) => x.toFixed(2),
      ),
    ].join(' '),
  );
}
