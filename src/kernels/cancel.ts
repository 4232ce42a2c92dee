import { abortError } from '../errors.js';

/**
 * A cancel flag that a kernel polls. It lives in shared memory so that the thread that owns a
 * task (the event loop) can stop a kernel that runs on another thread (a worker), and so that
 * `sleep` can wait on it and wake at once when cancelled.
 */
export const TaskState = { queued: 0, running: 1, cancelled: 2 } as const;

export class CancelFlag {
  readonly state: Int32Array;

  constructor(state: Int32Array = new Int32Array(new SharedArrayBuffer(4))) {
    this.state = state;
  }

  get cancelled(): boolean {
    return Atomics.load(this.state, 0) === TaskState.cancelled;
  }

  /** Throws the AbortError that every engine rejects with, if the flag is set. */
  throwIfCancelled(): void {
    if (this.cancelled) throw abortError();
  }
}
