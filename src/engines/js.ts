import type { CancelFlag } from '../kernels/cancel.js';
import * as kernels from '../kernels/index.js';
import { defineAsync, defineSync } from './define.js';
import type { Engine, KernelArgs, KernelName, KernelResults } from './types.js';

/** The TypeScript kernel of each table entry with a blocking form: one missing or mistyped does not compile. */
const implementations: {
  [K in KernelName]: (...args: [...KernelArgs[K], cancel?: CancelFlag]) => KernelResults[K];
} = kernels;

/** Runs a TypeScript kernel on the calling thread. */
export function runKernel<K extends KernelName>(kernel: K, args: KernelArgs[K], cancel?: CancelFlag): KernelResults[K] {
  return (implementations[kernel] as (...a: unknown[]) => KernelResults[K])(...args, cancel);
}

/**
 * The TypeScript kernels on the calling thread. The Promise forms block too: they are the exact
 * analogue of a blocking call inside an `async def` — the Promise settles only after the loop
 * was held for the whole computation.
 */
export const js: Engine = {
  name: 'js',
  ...defineSync(runKernel),
  ...defineAsync({
    async run(task, args) {
      if (task === 'noop') return undefined as never;
      return runKernel(task, args as KernelArgs[KernelName]) as never;
    },
  }),
};
