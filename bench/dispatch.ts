/**
 * Dispatch cost: a `noop` round trip, awaited one after another, through each way of leaving the
 * loop — libuv's threadpool (`cpp`, `rust`), the dedicated pools (`cpp-pool`, `rust-pool`) and
 * piscina (`workers`). Run alone: `node dist/bench/dispatch.js [--rounds 30] [--calls 400]
 * [--baseline DIR]`.
 *
 * Why it is built like this: one long timing of each path in turn swings from run to run (the
 * machine's load moves between the timings). Here the paths take turns, a batch each per round
 * (A B C D E, then B C D E A, ...), so each round's ratio to piscina compares batches taken
 * moments apart; every figure is the median over the rounds, with the quartiles as its spread.
 * Two figures per path:
 * - wall: µs per round trip (what a caller waits) — noise on a shared machine;
 * - cpu: µs of this process's CPU time per round trip, every thread counted (the pool threads,
 *   piscina's workers, libuv's) — what survives contention.
 * `--baseline DIR` adds the same rows for the addons in DIR (offloop_cpp.node, offloop_rust.node,
 * called directly) next to this build's, called directly too: an A/B of a change to the addons.
 * Finally it reports the CPU the process burns while idle just after the calls (a spinning pool
 * thread would show here).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { addonCandidates, type NativeBinding } from '../src/engines/addon.js';
import { cpp, cppPool, createWorkers, rust, rustPool } from '../src/index.js';
import { percentile } from './stats.js';

interface Path {
  name: string;
  call: () => Promise<unknown>;
}

interface Figures {
  wallUs: number[];
  cpuUs: number[];
  ratioWall: number[];
  ratioCpu: number[];
}

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '30' },
    calls: { type: 'string', default: '400' },
    baseline: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const calls = Number(values.calls);

const require = createRequire(import.meta.url);
const load = (file: string) => require(file) as NativeBinding;

const workers = createWorkers();
const paths: Path[] = [
  { name: 'cpp', call: () => cpp.noop() },
  { name: 'rust', call: () => rust.noop() },
  { name: 'cpp-pool', call: () => cppPool.noop() },
  { name: 'rust-pool', call: () => rustPool.noop() },
  { name: 'workers', call: () => workers.noop() },
];
const addons: NativeBinding[] = [];
if (values.baseline !== undefined) {
  const sides = [
    ['', load(addonCandidates('cpp')[0]!), load(addonCandidates('rust')[0]!)],
    ['@base', load(join(values.baseline, 'offloop_cpp.node')), load(join(values.baseline, 'offloop_rust.node'))],
  ] as const;
  for (const [suffix, c, r] of sides) {
    addons.push(c, r);
    paths.push(
      { name: `addon cpp${suffix}`, call: () => c.noop() },
      { name: `addon rust${suffix}`, call: () => r.noop() },
      { name: `addon cpp.pool${suffix}`, call: () => c.pool.noop() },
      { name: `addon rust.pool${suffix}`, call: () => r.pool.noop() },
    );
  }
}

/** One batch: `calls` round trips awaited one after another; µs per call, wall and CPU. */
async function batch(path: Path): Promise<{ wall: number; cpu: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) await path.call();
  const wall = ((performance.now() - t0) * 1000) / calls;
  const used = process.cpuUsage(cpu0);
  return { wall, cpu: (used.user + used.system) / calls };
}

const spread = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { p25: percentile(sorted, 25), p50: percentile(sorted, 50), p75: percentile(sorted, 75) };
};

async function main() {
  const figures = new Map<string, Figures>(
    paths.map((p) => [p.name, { wallUs: [], cpuUs: [], ratioWall: [], ratioCpu: [] }]),
  );
  for (const path of paths) await batch(path); // warm up: threads started, code compiled
  for (let round = 0; round < rounds; round++) {
    const got = new Map<string, { wall: number; cpu: number }>();
    for (let k = 0; k < paths.length; k++) {
      const path = paths[(round + k) % paths.length]!; // rotate who goes first
      got.set(path.name, await batch(path));
    }
    const piscina = got.get('workers')!;
    for (const [name, b] of got) {
      const f = figures.get(name)!;
      f.wallUs.push(b.wall);
      f.cpuUs.push(b.cpu);
      f.ratioWall.push(b.wall / piscina.wall);
      f.ratioCpu.push(b.cpu / piscina.cpu);
    }
  }
  // Idle burn: the process's CPU over a quiet second right after the calls.
  const idle0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const idleUsed = process.cpuUsage(idle0);
  const idleShare = (idleUsed.user + idleUsed.system) / 1000 / (performance.now() - t0);

  const rows = [...figures].map(([name, f]) => ({
    name,
    wallUs: spread(f.wallUs),
    cpuUs: spread(f.cpuUs),
    ratioWall: spread(f.ratioWall),
    ratioCpu: spread(f.ratioCpu),
  }));
  if (values.json) {
    console.log(JSON.stringify({ rounds, calls, idleCpuShare: idleShare, rows }, null, 2));
  } else {
    const q = (s: { p25: number; p50: number; p75: number }, d = 1) =>
      `${s.p50.toFixed(d)} [${s.p25.toFixed(d)}–${s.p75.toFixed(d)}]`;
    console.log(`dispatch: ${rounds} rounds × ${calls} sequential noop calls per path; median [p25–p75] of rounds`);
    console.log(
      'path'.padEnd(22) + 'wall µs/call'.padEnd(22) + 'cpu µs/call'.padEnd(22) + 'wall ÷ piscina'.padEnd(22),
      'cpu ÷ piscina',
    );
    for (const r of rows) {
      console.log(
        r.name.padEnd(22) + q(r.wallUs).padEnd(22) + q(r.cpuUs).padEnd(22) + q(r.ratioWall, 3).padEnd(22),
        q(r.ratioCpu, 3),
      );
    }
    console.log(`idle afterwards: the process used ${(idleShare * 100).toFixed(2)}% of a core`);
  }
  await workers.close();
  for (const engine of [cppPool, rustPool]) await engine.close();
  for (const addon of addons) addon.pool.stop();
}

await main();
