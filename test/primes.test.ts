import test from 'ava';
import { cpp, rust } from '../src/index.js';
import { asyncEngines, syncEngines } from './helpers/engines.js';
import { naivePrimeCounts } from './helpers/oracle.js';

// Published values of π(x).
const known: [number, number][] = [
  [0, 0],
  [1, 0],
  [2, 1],
  [3, 2],
  [4, 2],
  [5, 3],
  [10, 4],
  [100, 25],
  [1000, 168],
  [10_000, 1229],
  [100_000, 9592],
  [1_000_000, 78_498],
  [10_000_000, 664_579],
  [100_000_000, 5_761_455],
];

// Each segment holds 32768 odd numbers, i.e. spans 65536 integers: probe both sides of its edges,
// and squares of primes near √limit, against a plain sieve.
const oracleMax = 5 * 65_536 + 10;
const oracle = naivePrimeCounts(oracleMax);
const boundaries = [
  ...new Set(
    [65_536, 131_072, 196_608, 262_144, 5 * 65_536, 65_521 * 1, 251 * 251, 257 * 257, 509 * 509]
      .flatMap((n) => [n - 3, n - 2, n - 1, n, n + 1, n + 2, n + 3])
      .filter((n) => n >= 0 && n <= oracleMax),
  ),
];

for (const engine of syncEngines) {
  test(`${engine.name}.primesSync gives known values of π(x)`, (t) => {
    for (const [x, pi] of known) t.is(engine.primesSync(x), pi, `π(${x})`);
  });

  test(`${engine.name}.primesSync is exact at segment boundaries`, (t) => {
    for (const n of boundaries) t.is(engine.primesSync(n), oracle[n]!, `π(${n})`);
  });
}

for (const engine of asyncEngines) {
  test(`${engine.name}.primes gives known values of π(x)`, async (t) => {
    const got = await Promise.all(known.map(([x]) => engine.primes(x)));
    t.deepEqual(
      got,
      known.map(([, pi]) => pi),
    );
  });
}

for (const engine of [cpp, rust]) {
  test(`${engine.name}.primes reaches the top of its range, 2^32 − 1, in bounded memory`, async (t) => {
    const before = process.memoryUsage().rss;
    t.is(await engine.primes(2 ** 32 - 1), 203_280_221);
    // A sieve that was not segmented would need ≥ 256 MiB here; the segmented one needs kilobytes.
    t.true(process.memoryUsage().rss - before < 64 << 20);
  });
}
