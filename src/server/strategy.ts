import type { KernelArgs, KernelName, KernelResults, SyncKernels } from '../engines/types.js';

/**
 * What a strategy is: where a request's work runs. The table of them (strategies.ts) is the one
 * definition that routes, metrics, the benchmarks, the live page and the docs all read; the queue
 * builds its own entry from these types (so neither imports the other's module).
 */
export const strategyNames = [
  'blocking',
  'cpp-sync',
  'rust-sync',
  'worker',
  'cpp',
  'rust',
  'cpp-pool',
  'rust-pool',
  'builtin',
] as const;
/** `strategyNames` are the in-process strategies; `queue` (other processes, needs Redis) joins in createStrategies. */
export type StrategyName = (typeof strategyNames)[number] | 'queue';

/** The thread(s) a strategy's work occupies. */
export type PoolName = 'loop' | 'libuv' | 'workers' | 'cpp-pool' | 'rust-pool' | 'queue';

/** What a run learnt beyond the result: the queue says which worker ran it. */
export interface RunInfo {
  worker?: string;
}

export interface Strategy {
  readonly name: StrategyName;
  /** Where the kernel runs, in words. */
  readonly where: string;
  /** Whether the event loop is held while the work runs. */
  readonly blocksLoop: boolean;
  readonly pool: PoolName;
  /** The kernels this strategy can run (`builtin` only has what Node itself offers). */
  readonly kernels: readonly KernelName[];
  /** Why the strategy is off (its requests get 503 with this); absent when it is on. */
  readonly disabled?: string;
  /**
   * The sync form of its kernels, where its costs can be measured: a loop strategy's own, and
   * builtin's (its uncancellable pbkdf2 must fit the request timeout).
   */
  readonly sync?: SyncKernels;
  /**
   * Whether aborting a running `kernel` really stops its work. When false, an abort only stops
   * the reply: the work (and its thread) runs to its end.
   */
  cancellable(kernel: KernelName): boolean;
  run<K extends KernelName>(
    kernel: K,
    args: KernelArgs[K],
    signal?: AbortSignal,
    info?: RunInfo,
  ): Promise<KernelResults[K]>;
}
