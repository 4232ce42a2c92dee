import { abortError } from '../kernels/cancel.js';
import type { AsyncKernels, KernelArgs, KernelName, KernelResults, SyncKernels, TaskName } from './types.js';
import { parse } from './validate.js';

/** Where an engine runs its work; everything else (validation, options, abort) is shared. */
export interface Runner {
  /** Starts `task`. `signal`, when given, is not yet aborted. */
  run<T extends TaskName>(task: T, args: KernelArgs[T], signal: AbortSignal | undefined): Promise<KernelResults[T]>;
}
export type SyncRunner = <K extends KernelName>(kernel: K, args: KernelArgs[K]) => KernelResults[K];

const arity: Record<TaskName, number> = { primes: 1, pbkdf2: 4, blur: 4, sleep: 1, noop: 0 };

/** The Promise forms: bad arguments and a pre-aborted signal reject without starting anything. */
export function defineAsync(runner: Runner): AsyncKernels {
  const method = (task: TaskName) => {
    const parseArgs = parse[task] as (...raw: unknown[]) => KernelArgs[TaskName];
    const n = arity[task];
    return (...raw: unknown[]): Promise<unknown> => {
      try {
        const args = parseArgs(...raw.slice(0, n));
        const signal = parse.options(raw[n]);
        if (signal?.aborted) return Promise.reject(abortError());
        return runner.run(task, args, signal);
      } catch (error) {
        return Promise.reject(error);
      }
    };
  };
  return {
    primes: method('primes'),
    pbkdf2: method('pbkdf2'),
    blur: method('blur'),
    sleep: method('sleep'),
    noop: method('noop'),
  } as AsyncKernels;
}

/** The blocking forms: validate, then run on the calling thread. */
export function defineSync(runSync: SyncRunner): SyncKernels {
  const method = (kernel: KernelName) => {
    const parseArgs = parse[kernel] as (...raw: unknown[]) => KernelArgs[KernelName];
    const n = arity[kernel];
    return (...raw: unknown[]) => runSync(kernel, parseArgs(...raw.slice(0, n)));
  };
  return {
    primesSync: method('primes'),
    pbkdf2Sync: method('pbkdf2'),
    blurSync: method('blur'),
    sleepSync: method('sleep'),
  } as SyncKernels;
}
