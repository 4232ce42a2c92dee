import { abortError } from '../errors.js';
import { arity, type KernelArgs, type KernelName, parse, perSyncKernel, perTask, type TaskName } from './kernels.js';
import type { AsyncKernels, AsyncMethods, KernelResults, SyncKernels, SyncMethods } from './types.js';
import { taskOptions } from './validate.js';

/** Where an engine runs its work; everything else (validation, options, abort) is shared. */
export interface Runner {
  /** Starts `task`. `signal`, when given, is not yet aborted. */
  run<T extends TaskName>(task: T, args: KernelArgs[T], signal: AbortSignal | undefined): Promise<KernelResults[T]>;
}
export type SyncRunner = <K extends KernelName>(kernel: K, args: KernelArgs[K]) => KernelResults[K];

/** The Promise forms, one per table entry: bad arguments and a pre-aborted signal reject without starting anything. */
export function defineAsync(runner: Runner): AsyncKernels {
  return perTask<AsyncKernels>(<K extends TaskName>(task: K): AsyncMethods<K>[K] => {
    const n = arity[task];
    return (...raw) => {
      try {
        const args = parse[task](...raw.slice(0, n));
        const signal = taskOptions(raw[n]);
        if (signal?.aborted) return Promise.reject(abortError(signal));
        return runner.run(task, args, signal);
      } catch (error) {
        return Promise.reject(error);
      }
    };
  });
}

/** The blocking forms, `${name}Sync` for each kernel: validate, then run on the calling thread. */
export function defineSync(runSync: SyncRunner): SyncKernels {
  return perSyncKernel<SyncMethods<KernelName>>(<K extends KernelName>(kernel: K): SyncMethods<K>[K] => {
    const check = parse[kernel];
    return (...raw) => runSync(kernel, check(...raw));
  });
}
