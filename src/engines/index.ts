export { js } from './js.js';
export { cpp } from './cpp.js';
export { rust } from './rust.js';
export { workers, createWorkers, type WorkerEngine, type WorkerPoolOptions } from './workers.js';
export type { NativeEngine } from './native.js';
export { AddonLoadError } from './addon.js';
export * from './types.js';
