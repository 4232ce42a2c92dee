/**
 * The one interface every engine implements, derived from the kernel table (kernels.ts): each
 * table entry becomes a Promise method, and each entry with `sync: true` a `${name}Sync` method
 * too, with the entry's argument names, types and doc comment.
 */
import type { KernelInput, KernelName, KernelResult, KernelTable, TaskName } from './kernels.js';
import type { TaskOptions } from './validate.js';

export type { BinaryLike, KernelArgs, KernelName, Pixels, TaskName } from './kernels.js';
export { kernelNames } from './kernels.js';
export type { TaskOptions };

export type EngineName = 'js' | 'workers' | 'cpp' | 'rust' | 'cpp-pool' | 'rust-pool';

/**
 * The Promise form of a task. Declared as a method (`{ m(…) }['m']`) so that, as in an interface,
 * parameters compare bivariantly: a wrapper typed `options?: { signal?: AbortSignal }` still fits.
 */
export type AsyncMethod<K extends TaskName> = {
  m(...args: [...KernelInput<K>, options?: TaskOptions]): Promise<KernelResult<K>>;
}['m'];
/** The blocking form of a kernel: it runs on the calling thread. */
export type SyncMethod<K extends TaskName> = { m(...args: KernelInput<K>): KernelResult<K> }['m'];

/** The Promise forms: one per table entry. */
export type AsyncKernels = { [K in keyof KernelTable]: AsyncMethod<K> };
/** The same, for some tasks (indexed by a generic name, it is that task's method). */
export type AsyncMethods<N extends TaskName> = { [K in N]: AsyncMethod<K> };

/** The blocking forms: `${name}Sync` for each entry with `sync: true`. */
export type SyncKernels = {
  [K in keyof KernelTable as KernelTable[K]['sync'] extends true ? `${K}Sync` : never]: SyncMethod<K>;
};
/** The blocking forms by kernel name (indexed by a generic name, it is that kernel's method). */
export type SyncMethods<N extends KernelName> = { [K in N]: SyncMethod<K> };

export interface Engine extends AsyncKernels, SyncKernels {
  readonly name: EngineName;
}

/** The result of each task, by name. */
export type KernelResults = { [K in TaskName]: KernelResult<K> };
/** A `${name}Sync` method name. */
export type SyncName<K extends KernelName = KernelName> = `${K}Sync`;
