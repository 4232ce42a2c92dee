#!/usr/bin/env node
/**
 * The CPU the pools' own bookkeeping adds per task, measured as process CPU (process.cpuUsage),
 * so a busy machine slows it but does not skew it much:
 *  (1) the worker pool's TaskTimes (stats) and Drain (drained()), alone;
 *  (2) a cpp-pool noop awaited as the addon returns it vs wrapped as native.ts wraps it
 *      (a .then() that counts it for drained() and maps AbortErrors), alternated A B A B.
 * Needs `npx tsc -p tsconfig.json` first.   node scripts/pool-bookkeeping.mjs
 */
import { performance } from 'node:perf_hooks';
import { loadAddon } from '../dist/src/engines/addon.js';
import { Drain } from '../dist/src/engines/drain.js';
import { TaskTimes } from '../dist/src/engines/task-times.js';

const cpu = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
// (1) bookkeeping alone
const N = 1e6;
const bk = [];
for (let r = 0; r < 5; r++) {
  const times = new TaskTimes();
  const drain = new Drain();
  const c0 = cpu();
  for (let i = 0; i < N; i++) {
    const q = performance.now();
    drain.begin();
    const s = performance.now();
    times.started(q, s);
    times.settled(s);
    drain.end();
  }
  bk.push(((cpu() - c0) * 1000) / N);
}
console.log(
  `workers bookkeeping: ${median(bk).toFixed(0)} ns CPU per task (runs ${bk.map((x) => x.toFixed(0)).join(' ')})`,
);
// (2) native pool: raw vs wrapped, alternated
const { pool } = loadAddon('cpp');
pool.start(1, 0, 'normal');
const M = 20000;
const A = [],
  B = [];
const drain = new Drain();
const raw = async () => {
  for (let i = 0; i < M; i++) await pool.noop();
};
const wrapped = async () => {
  for (let i = 0; i < M; i++) {
    const p = pool.noop();
    drain.begin();
    await p.then(
      (v) => {
        drain.end();
        return v;
      },
      (e) => {
        drain.end();
        throw e;
      },
    );
  }
};
for (let r = 0; r < 7; r++) {
  let c = cpu();
  await raw();
  A.push(((cpu() - c) * 1000) / M);
  c = cpu();
  await wrapped();
  B.push(((cpu() - c) * 1000) / M);
}
const runs = (xs) => xs.map((x) => x.toFixed(0)).join(' ');
const ratio = median(B.map((b, i) => b / A[i])).toFixed(3);
console.log(
  `cpp pool noop: raw ${median(A).toFixed(0)} ns, wrapped ${median(B).toFixed(0)} ns CPU per call; ` +
    `B/A ${ratio} (A ${runs(A)}; B ${runs(B)})`,
);
pool.stop();
