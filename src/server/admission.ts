import { abortError } from '../errors.js';

/** Thrown when a pool already holds all the requests it may: the server answers 503. */
export class OverloadedError extends Error {
  override readonly name = 'OverloadedError';
}

interface Waiter {
  label: string;
  resolve: () => void;
  reject: (error: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * Admission control for one pool of threads: at most `maxInFlight` requests run, at most
 * `maxQueue` wait (FIFO), and the rest are refused at once — so memory stays bounded under any
 * load, and the native and worker queues never grow past what we admitted. Strategies that share
 * a pool share its gate; each request carries a label (its strategy) for the metrics only.
 */
export class Gate {
  inFlight = 0;
  readonly #waiting = new Set<Waiter>(); // a Set keeps insertion order: FIFO, O(1) removal
  readonly #running = new Map<string, number>();

  constructor(
    readonly maxInFlight: number,
    readonly maxQueue: number,
  ) {}

  get queued(): number {
    return this.#waiting.size;
  }

  /** Whether a request arriving now would be refused: checked before a body is read. */
  get full(): boolean {
    return this.inFlight >= this.maxInFlight && this.#waiting.size >= this.maxQueue;
  }

  /** Requests of one label running now. */
  inFlightOf(label: string): number {
    return this.#running.get(label) ?? 0;
  }

  /** Requests of one label waiting now. */
  queuedOf(label: string): number {
    let n = 0;
    for (const w of this.#waiting) if (w.label === label) n++;
    return n;
  }

  /**
   * Runs `work` when admitted; a request aborted while it waits leaves the queue at once. The
   * slot is held until `work` settles — for work that cannot be stopped, until it really ends.
   */
  async run<T>(signal: AbortSignal | undefined, work: () => Promise<T>, label = '-'): Promise<T> {
    if (signal?.aborted) throw abortError(signal);
    if (this.inFlight >= this.maxInFlight) {
      if (this.#waiting.size >= this.maxQueue) throw new OverloadedError('too many requests for this pool');
      await this.#wait(signal, label);
    } else {
      this.inFlight++;
    }
    this.#running.set(label, this.inFlightOf(label) + 1);
    try {
      return await work();
    } finally {
      this.#running.set(label, this.inFlightOf(label) - 1);
      this.#release();
    }
  }

  #wait(signal: AbortSignal | undefined, label: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        label,
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.#waiting.delete(waiter);
          reject(abortError(signal));
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
