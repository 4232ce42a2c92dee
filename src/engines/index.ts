export type { PoolPolicy, PoolStats, TimeSummary } from './addon.js';
export { AddonLoadError } from './addon.js';
export { cpp, cppPool } from './cpp.js';
export { js } from './js.js';
export type { NativeEngine, NativePoolEngine, PoolOptions } from './native.js';
export { rust, rustPool } from './rust.js';
export * from './types.js';
export {
  createWorkers,
  type WorkerEngine,
  type WorkerPoolOptions,
  WorkerQueueFullError,
  workerPoolLimits,
  workers,
} from './workers.js';
