import { abortError } from '../kernels/cancel.js';

/** Thrown when a strategy already holds all the requests it may: the server answers 503. */
export class OverloadedError extends Error {
  override readonly name = 'OverloadedError';
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * Admission control for one strategy: at most `maxInFlight` requests run, at most `maxQueue`
 * wait (FIFO), and the rest are refused at once — so memory stays bounded under any load, and
 * the native and worker queues never grow past what we admitted.
 */
export class Gate {
  inFlight = 0;
  readonly #waiting = new Set<Waiter>(); // a Set keeps insertion order: FIFO, O(1) removal

  constructor(
    readonly maxInFlight: number,
    readonly maxQueue: number,
  ) {}

  get queued(): number {
    return this.#waiting.size;
  }

  /** Runs `work` when admitted; a request aborted while it waits leaves the queue at once. */
  async run<T>(signal: AbortSignal | undefined, work: () => Promise<T>): Promise<T> {
    if (this.inFlight >= this.maxInFlight) {
      if (this.#waiting.size >= this.maxQueue) throw new OverloadedError('too many requests for this strategy');
      await this.#wait(signal);
    } else {
      this.inFlight++;
    }
    try {
      return await work();
    } finally {
      this.#release();
    }
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve, reject, signal,
        onAbort: () => {
          this.#waiting.delete(waiter);
          reject(abortError());
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiting.add(waiter);
    });
  }

  /** Hands the slot straight to the next waiter, so inFlight never dips and rises again. */
  #release(): void {
    for (const next of this.#waiting) {
      this.#waiting.delete(next);
      next.signal?.removeEventListener('abort', next.onAbort);
      next.resolve();
      return;
    }
    this.inFlight--;
  }
}
