/**
 * How long and how big each measurement is. `full` is the run whose figures we publish; `quick`
 * is a smoke check that exercises every code path in well under a minute, so its figures are
 * noisy and its HTTP work is smaller (it is not meant to be compared with a full run).
 */
export interface Profile {
  readonly name: 'full' | 'quick';
  readonly kernels: {
    /** tinybench time budget per task, and its minimum sample count (slow JS blur needs the cap). */
    readonly timeMs: number;
    readonly iterations: number;
    readonly warmupMs: number;
    readonly warmupIterations: number;
    /** The spec's inputs: the same for every engine. */
    readonly primesLimit: number;
    readonly pbkdf2: { readonly iterations: number; readonly keylen: number };
    readonly blur: { readonly width: number; readonly height: number; readonly radius: number };
    /** Round trips of `noop` are cheap: a time budget alone bounds them. */
    readonly dispatchTimeMs: number;
    /** Rounds of the same round trips in a child pinned to one core (bench/dispatch.ts, dispatchOnOneCore). */
    readonly dispatchOneCoreRounds: number;
    /** Wall time of each (engine, tasks in flight) throughput window, and its kernel size. */
    readonly scalingTimeMs: number;
    readonly scalingPrimesLimit: number;
    readonly inFlight: readonly number[];
  };
  readonly http: {
    /** Heavy-route connections: enough to fill every pool (and queue), not past the admission gates. */
    readonly connections: number;
    readonly loadS: number;
    /** Idle-then-loaded runs of each strategy's primary route (pooled, with their spread); other loads run once. */
    readonly repeats: number;
    /**
     * The same for a strategy that keeps its work off the loop. Its loaded p99 sits near the idle
     * one for the pools and worker threads, where a few stalls more or less in 2,500 pings move
     * it: in 46 runs one morning, 3 pooled left `cpp-pool`'s ratio within ±20% of its median 4
     * times in 5, 7 about 9 in 10, fewer at a busier hour (README, "How far to trust"). The libuv
     * paths get the same.
     */
    readonly offLoopRepeats: number;
    readonly idleS: number;
    /** The probe sends one /ping per interval on its own keep-alive connection. */
    readonly probeIntervalMs: number;
    /** Native primes at this limit takes tens of milliseconds (about 40 ms for C++ here). */
    readonly primesLimit: number;
    readonly pbkdf2Iterations: number;
    /** ?ms= for the seed routes. */
    readonly seedMs: number;
    readonly routingConnections: number;
    /** Seconds of each flood; offloop and the bare server alternate for `routingRounds` rounds. */
    readonly routingS: number;
    readonly routingRounds: number;
  };
  readonly starvation: {
    readonly idleS: number;
    readonly loadedS: number;
    /** One fs read starts every interval, whether the last one finished or not (open loop). */
    readonly intervalMs: number;
    /** Each filler job takes roughly 20 ms of one core. */
    readonly primesLimit: number;
    readonly pbkdf2Iterations: number;
  };
}

const kernelInputs = {
  primesLimit: 10_000_000,
  pbkdf2: { iterations: 10_000, keylen: 32 },
  blur: { width: 1024, height: 1024, radius: 8 },
  scalingPrimesLimit: 10_000_000,
  inFlight: [1, 2, 4],
} as const;

export const profiles: Record<Profile['name'], Profile> = {
  full: {
    name: 'full',
    kernels: {
      ...kernelInputs,
      timeMs: 2000,
      iterations: 10,
      warmupMs: 300,
      warmupIterations: 3,
      dispatchTimeMs: 1500,
      dispatchOneCoreRounds: 20,
      scalingTimeMs: 1500,
    },
    http: {
      connections: 8,
      loadS: 5,
      repeats: 3,
      offLoopRepeats: 7,
      idleS: 3,
      probeIntervalMs: 2,
      primesLimit: 100_000_000,
      pbkdf2Iterations: 100_000,
      seedMs: 20,
      routingConnections: 32,
      routingS: 3,
      routingRounds: 3,
    },
    starvation: { idleS: 2, loadedS: 3, intervalMs: 5, primesLimit: 50_000_000, pbkdf2Iterations: 50_000 },
  },
  quick: {
    name: 'quick',
    kernels: {
      ...kernelInputs,
      timeMs: 100,
      iterations: 2,
      warmupMs: 20,
      warmupIterations: 1,
      dispatchTimeMs: 100,
      dispatchOneCoreRounds: 3,
      scalingTimeMs: 150,
    },
    http: {
      connections: 8,
      loadS: 0.8,
      repeats: 2,
      offLoopRepeats: 3,
      idleS: 0.5,
      probeIntervalMs: 2,
      primesLimit: 20_000_000,
      pbkdf2Iterations: 20_000,
      seedMs: 10,
      routingConnections: 32,
      routingS: 1,
      routingRounds: 2,
    },
    starvation: { idleS: 0.3, loadedS: 0.6, intervalMs: 5, primesLimit: 20_000_000, pbkdf2Iterations: 20_000 },
  },
};
