import type { CancelFlag } from '../kernels/cancel.js';
import * as kernels from '../kernels/index.js';
import { defineAsync, defineSync } from './define.js';
import type { Engine, KernelArgs, KernelName, KernelResults } from './types.js';

/** Runs a TypeScript kernel on the calling thread. */
export function runKernel<K extends KernelName>(kernel: K, args: KernelArgs[K], cancel?: CancelFlag): KernelResults[K] {
  return (kernels[kernel] as unknown as (...a: unknown[]) => KernelResults[K])(...args, cancel);
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
