import { cpp, js, rust, workers, type AsyncKernels, type Engine } from '../../src/index.js';

/** Engines with `*Sync` forms, and engines with Promise forms: every test runs over all of them. */
export const syncEngines: readonly Engine[] = [js, cpp, rust];
export const asyncEngines: readonly (AsyncKernels & { name: string })[] = [js, workers, cpp, rust];
/** The engines whose Promise forms run off the calling thread. */
export const offloadEngines = [workers, cpp, rust] as const;
