import { availableParallelism } from 'node:os';
import { abortError, invalidArgType } from '../errors.js';
import {
  type AddonName,
  loadAddon,
  type NativeAsync,
  type NativeBinding,
  type NativePool,
  type PoolPolicy,
  type PoolStats,
} from './addon.js';
import { defineAsync, defineSync } from './define.js';
import { Drain } from './drain.js';
import type { KernelName } from './kernels.js';
import type { Engine, EngineName } from './types.js';
import { integer, oneOf } from './validate.js';

export interface NativeEngine extends Engine {
  readonly name: EngineName;
  /** Which SHA-256 compression the addon chose: the x86 SHA extensions or the portable code. */
  readonly shaBackend: 'sha-ni' | 'portable';
}

/** What a native pool's `configure()` accepts. */
export const poolLimits = {
  threads: { min: 1, max: 256 },
  nice: { min: 0, max: 19 },
  /**
   * How the pool's threads are scheduled, lowest first. Linux: SCHED_IDLE (runs only when nothing
   * else wants the CPU), SCHED_BATCH and SCHED_OTHER, the last two at the nice value.
   */
  policies: ['idle', 'batch', 'normal'],
} as const;

export interface PoolOptions {
  /** Threads in the pool. Default: the number of cores (`os.availableParallelism()`). */
  threads?: number;
  /**
   * The threads' nice value, 0..19: higher yields the CPU to the event loop. Default 10. Under the
   * 'idle' policy the kernel ignores it (it is still set, and reported by `stats()`).
   */
  nice?: number;
  /**
   * How the threads are scheduled. Linux: 'idle' (default) is SCHED_IDLE — the threads run only
   * when no other thread wants the CPU, so the event loop always wins it; 'batch' is
   * SCHED_BATCH and 'normal' SCHED_OTHER, both at `nice`. No privilege is needed to lower a
   * thread's policy. Elsewhere: 'idle' lowers the threads' priority as far as it goes (Windows:
   * THREAD_PRIORITY_IDLE; other Unixes: the C++ pool lowers it within the thread's policy),
   * 'batch' is 'normal'.
   */
  policy?: PoolPolicy;
}

/** An engine whose Promise forms run on its addon's own thread pool instead of libuv's. */
export interface NativePoolEngine extends NativeEngine {
  readonly name: 'cpp-pool' | 'rust-pool';
  /**
   * Sets the pool's size and priority. It takes effect when the pool starts (on first use, or
   * now if it is idle); a pool with tasks pending keeps its settings and this throws.
   */
  configure(options: PoolOptions): void;
  /**
   * The pool's threads, nice value and policy (0, 0, null until it starts), its queued and running
   * tasks, and since it started: tasks completed, utilization, and run and wait times (ms).
   */
  stats(): PoolStats;
  /** Resolves once no task is queued or running (at once if none is); see README "Draining". */
  drained(): Promise<void>;
  /** Stops the pool's threads; pending tasks reject with AbortError. The next call starts it again. */
  close(): Promise<void>;
}

type AnyNative = (...args: unknown[]) => never;

/**
 * The addons take bytes only: strings (pbkdf2's password and salt) are encoded here as UTF-8
 * Buffers; with no string among them, the arguments go as they are (no copy per call).
 */
const bytes = (args: readonly unknown[]): readonly unknown[] => {
  for (const arg of args) {
    if (typeof arg === 'string') return args.map((a) => (typeof a === 'string' ? Buffer.from(a, 'utf8') : a));
  }
  return args;
};

/** The addons reject an aborted task with their own AbortError (a DOMException): ours carries the reason. */
const isAbort = (error: unknown) => (error as { name?: unknown } | null)?.name === 'AbortError';

/**
 * An engine over one addon, loaded on first use. The Promise forms run as native async work on
 * `executor` — libuv's threadpool, or the addon's own pool; an abort cancels the work if it is
 * still queued, or sets the flag that the running kernel polls. `drain`, when given, counts the
 * tasks pending.
 */
function engineOver(
  addonName: AddonName,
  name: EngineName,
  executor: (b: NativeBinding) => NativeAsync,
  drain?: Drain,
): NativeEngine {
  let addon: NativeBinding | undefined;
  const binding = () => (addon ??= loadAddon(addonName));
  // Each kernel's blocking function, looked up on its first call rather than by name on every one.
  const syncFunctions: Partial<Record<KernelName, AnyNative>> = {};
  const syncFunction = (kernel: KernelName): AnyNative => {
    let run = syncFunctions[kernel];
    if (run === undefined) {
      run = binding()[`${kernel}Sync`] as AnyNative;
      syncFunctions[kernel] = run;
    }
    return run;
  };
  return {
    name,
    get shaBackend() {
      return binding().shaBackend;
    },
    ...defineSync((kernel, args) => syncFunction(kernel)(...bytes(args))),
    ...defineAsync({
      run(task, args, signal) {
        const b = binding();
        const start = executor(b)[task] as AnyNative;
        if (signal === undefined && drain === undefined) return start(...bytes(args));
        let running: Promise<never>;
        let onAbort: (() => void) | undefined;
        if (signal === undefined) {
          running = start(...bytes(args));
        } else {
          const token = b.createCancelToken();
          onAbort = () => b.cancel(token);
          running = start(...bytes(args), token);
          signal.addEventListener('abort', onAbort, { once: true });
        }
        drain?.begin();
        const settled = () => {
          if (onAbort) signal?.removeEventListener('abort', onAbort);
          drain?.end();
        };
        return running.then(
          (value) => {
            settled();
            return value;
          },
          (error: unknown) => {
            settled();
            // Aborted by the signal (its reason as the cause), or by the pool's close().
            throw isAbort(error) ? abortError(signal?.aborted ? signal : undefined) : error;
          },
        );
      },
    }),
  };
}

/** One of `poolLimits.policies`, worded as the addons word it. */
export const policy = (name: string, value: unknown): PoolPolicy => oneOf(name, value, poolLimits.policies);

/** The addon's kernels, with Promise forms on libuv's threadpool. */
export function nativeEngine(name: AddonName): NativeEngine {
  return engineOver(name, name, (b) => b);
}

/** The addon's kernels, with Promise forms on its dedicated, lower-priority pool. */
export function nativePoolEngine(addonName: AddonName): NativePoolEngine {
  let settings: Required<PoolOptions> = { threads: availableParallelism(), nice: 10, policy: 'idle' };
  let pool: NativePool | undefined;
  /** The pool, started with our settings before its first task (so both addons agree on them). */
  const started = (b: NativeBinding): NativePool => {
    if (pool === undefined) {
      b.pool.start(settings.threads, settings.nice, settings.policy);
      pool = b.pool;
    }
    return pool;
  };
  const drain = new Drain();
  const engine = engineOver(addonName, `${addonName}-pool`, started, drain);
  return Object.assign(engine, {
    name: `${addonName}-pool` as const,
    drained: () => drain.drained(),
    configure(options: PoolOptions) {
      if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
      const next: Required<PoolOptions> = {
        threads:
          options.threads === undefined
            ? settings.threads
            : integer('options.threads', options.threads, poolLimits.threads),
        nice: options.nice === undefined ? settings.nice : integer('options.nice', options.nice, poolLimits.nice),
        policy: options.policy === undefined ? settings.policy : policy('options.policy', options.policy),
      };
      const stats = pool?.stats();
      const changed = (['threads', 'nice', 'policy'] as const).some((key) => stats?.[key] !== next[key]);
      if (stats && changed) {
        if (stats.queued + stats.running > 0)
          throw new Error(`offloop: the ${addonName}-pool has tasks pending; configure it when it is idle`);
        pool!.stop();
        pool = undefined; // restarts with the new settings on its next task
      }
      settings = next;
    },
    stats: (): PoolStats => {
      const none = { p50: 0, p99: 0, max: 0 };
      const idle = { threads: 0, nice: 0, policy: null, queued: 0, running: 0, completed: 0, utilization: 0 };
      return pool?.stats() ?? { ...idle, runTime: none, waitTime: none };
    },
    async close() {
      pool?.stop();
      pool = undefined;
    },
  }) as NativePoolEngine;
}
