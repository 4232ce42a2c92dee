/**
 * offloop: the same CPU kernels in TypeScript, C++ and Rust, runnable on the event loop, on a
 * worker_threads pool, or on libuv's threadpool — so you can choose where work runs.
 */
import { cpp, cppPool, js, rust, rustPool, workers } from './engines/index.js';

export type {
  AsyncKernels,
  BinaryLike,
  Engine,
  EngineName,
  KernelName,
  NativeEngine,
  NativePoolEngine,
  Pixels,
  PoolOptions,
  PoolPolicy,
  PoolStats,
  SyncKernels,
  TaskOptions,
  TimeSummary,
  WorkerEngine,
  WorkerPoolOptions,
} from './engines/index.js';
export { AddonLoadError, createWorkers, kernelNames, WorkerQueueFullError } from './engines/index.js';
export { limits } from './engines/kernels.js';
export { AbortError } from './errors.js';
export { cpp, cppPool, js, rust, rustPool, workers };

/** Every engine by name. */
export const engines = { js, workers, cpp, rust, 'cpp-pool': cppPool, 'rust-pool': rustPool } as const;
