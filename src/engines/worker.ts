/** The piscina worker: runs one TypeScript kernel per task, off the event loop. */
import { move } from 'piscina';
import { CancelFlag, TaskState, abortError } from '../kernels/cancel.js';
import { runKernel } from './js.js';
import type { KernelArgs, KernelName, TaskName } from './types.js';

export interface WorkerTask {
  task: TaskName;
  args: unknown[];
  /** Shared with the caller: queued → running here; the caller sets cancelled on abort. */
  state?: Int32Array | undefined;
}

export default function run({ task, args, state }: WorkerTask): unknown {
  if (task === 'noop') return undefined;
  let cancel: CancelFlag | undefined;
  if (state !== undefined) {
    if (Atomics.compareExchange(state, 0, TaskState.queued, TaskState.running) === TaskState.cancelled) throw abortError();
    cancel = new CancelFlag(state);
  }
  const result: unknown = runKernel(task, args as KernelArgs[KernelName], cancel);
  // Transfer result bytes instead of copying them (kernels allocate them unpooled).
  return result instanceof Uint8Array ? move(result) : result;
}
