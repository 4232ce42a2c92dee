/**
 * The documented bounds of every kernel argument, shared by validation, docs and tests.
 * The native addons enforce the same numbers (native/README.md).
 */
export const limits = {
  primes: { limit: { min: 0, max: 2 ** 32 - 1 } },
  pbkdf2: { iterations: { min: 1, max: 100_000_000 }, keylen: { min: 1, max: 1024 } },
  blur: {
    width: { min: 1, max: 65_535 },
    height: { min: 1, max: 65_535 },
    /** width·height may not exceed this many pixels (256 MiB of RGBA). */
    pixels: 2 ** 26,
    radius: { min: 0, max: 65_535 },
  },
  sleep: { ms: { min: 0, max: 60_000 } },
} as const;

/** The addons' own thread pools (`cppPool`, `rustPool`): what `configure()` accepts. */
export const poolLimits = {
  threads: { min: 1, max: 256 },
  nice: { min: 0, max: 19 },
  /**
   * How the pool's threads are scheduled, lowest first. Linux: SCHED_IDLE (runs only when nothing
   * else wants the CPU), SCHED_BATCH and SCHED_OTHER, the last two at the nice value.
   */
  policies: ['idle', 'batch', 'normal'],
} as const;
