import { CancelFlag, TaskState } from './cancel.js';

/**
 * Blocks the calling thread for `ms` milliseconds: the stand-in for a blocking I/O call.
 * It waits on the cancel flag's shared memory, so cancelling wakes it at once.
 */
export function sleep(ms: number, cancel: CancelFlag = new CancelFlag()): void {
  const deadline = performance.now() + ms;
  for (let left = ms; left > 0; left = deadline - performance.now()) {
    cancel.throwIfCancelled();
    // Waits while the state is anything but `cancelled`; a cancel stores and notifies.
    const seen = Atomics.load(cancel.state, 0);
    if (seen !== TaskState.cancelled) Atomics.wait(cancel.state, 0, seen, left);
  }
}
