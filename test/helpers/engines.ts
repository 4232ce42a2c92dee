import { availableParallelism } from 'node:os';
import { type AsyncKernels, cpp, cppPool, type Engine, js, rust, rustPool, workers } from '../../src/index.js';

/** Engines with `*Sync` forms, and engines with Promise forms: every test runs over all of them. */
export const syncEngines: readonly Engine[] = [js, cpp, rust];
export const asyncEngines: readonly (AsyncKernels & { name: string })[] = [js, workers, cpp, rust, cppPool, rustPool];
/** The engines whose Promise forms run off the calling thread. */
export const offloadEngines = [workers, cpp, rust, cppPool, rustPool] as const;

/**
 * Threads behind each off-loop engine: libuv's pool (UV_THREADPOOL_SIZE, default 4), or the
 * worker pool and the addons' own pools (the cores, by default).
 */
export const poolSize = (name: string) =>
  name === 'cpp' || name === 'rust' ? Number(process.env.UV_THREADPOOL_SIZE ?? 4) : availableParallelism();
