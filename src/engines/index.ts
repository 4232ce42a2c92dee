export { js } from './js.js';
export { cpp, cppPool } from './cpp.js';
export { rust, rustPool } from './rust.js';
export { workers, createWorkers, type WorkerEngine, type WorkerPoolOptions } from './workers.js';
export type { NativeEngine, NativePoolEngine, PoolOptions } from './native.js';
export type { PoolStats } from './addon.js';
export { AddonLoadError } from './addon.js';
export * from './types.js';
