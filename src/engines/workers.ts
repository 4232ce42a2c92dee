import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { abortError, invalidArgType } from '../errors.js';
import { TaskState } from '../kernels/cancel.js';
import { defineAsync } from './define.js';
import type { AsyncKernels, TaskOptions } from './types.js';
import { integer, taskOptions } from './validate.js';
import type { FileTask, KernelTask, WorkerTask } from './worker.js';
// The module piscina loads (this import also makes tsc build it: tsconfig's include has no .cts).
import type workerEntry from './worker-entry.cjs';

export type { RunFileContext } from './worker.js';

type ResourceLimits = ConstructorParameters<typeof Piscina>[0] extends infer O
  ? O extends { resourceLimits?: infer R }
    ? R
    : never
  : never;

export interface WorkerPoolOptions {
  /** Worker threads in the pool. Default: the number of cores (`os.availableParallelism()`). */
  threads?: number;
  /** Tasks that may wait for a thread; past it a call rejects with WorkerQueueFullError. Default: unbounded. */
  maxQueue?: number;
  /** Limits for each worker's V8 heap (see `worker_threads.ResourceLimits`). */
  resourceLimits?: ResourceLimits;
  /** How long `close()` waits for running tasks before it stops their threads, in ms. Default: 30 000. */
  closeTimeout?: number;
}

export interface WorkerEngine extends AsyncKernels {
  readonly name: 'workers';
  /** Threads the pool runs (it starts on first use). */
  readonly threads: number;
  /** Tasks waiting for a thread now. */
  readonly queueSize: number;
  /**
   * Runs the default export of your own module (an ES module or CommonJS; a path or a file URL) on
   * this pool, as `main(task, context)`: the place for your own blocking code. An abort removes a
   * queued task; a running one is told through `context` (`signal`, `cancelled`) and the promise
   * rejects with AbortError once it returns — no thread is ever terminated for an abort.
   */
  runFile<R = unknown>(module: string | URL, task: unknown, options?: TaskOptions): Promise<R>;
  /**
   * Lets queued and running tasks settle (up to `closeTimeout`), then stops the pool's threads;
   * the next call starts it again.
   */
  close(): Promise<void>;
}

/** A call made while `maxQueue` tasks already wait for a thread. */
export class WorkerQueueFullError extends Error {
  override readonly name = 'WorkerQueueFullError';
  readonly code = 'ERR_WORKER_QUEUE_FULL';
}

interface Job {
  message: WorkerTask;
  transferList: ArrayBuffer[];
  signal: AbortSignal | undefined;
  onAbort: () => void;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * One started pool: piscina's threads behind our own FIFO queue. piscina is given a task only when
 * a thread is free for it, and never a signal: piscina answers an abort of a task it has handed
 * to a worker by terminating that worker, and terminating a worker while it loads a module can
 * abort the whole process. A queued task is dropped from our queue; a handed-over one is cancelled
 * through its shared state (see worker.ts), and its promise settles when its thread is free again.
 */
class Dispatcher {
  readonly #piscina: Piscina<Parameters<typeof workerEntry>[0], unknown>;
  readonly #waiting = new Set<Job>(); // insertion order: FIFO, O(1) removal
  #running = 0;
  #idle: (() => void) | undefined;

  constructor(
    readonly threads: number,
    readonly maxQueue: number,
    resourceLimits: ResourceLimits | undefined,
    closeTimeout: number,
  ) {
    this.#piscina = new Piscina({
      filename: new URL('./worker-entry.cjs', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      closeTimeout,
      ...(resourceLimits === undefined ? {} : { resourceLimits }),
    });
    // piscina reports here what belongs to no task (say, a close that timed out); unheard, an
    // 'error' event would crash the process.
    this.#piscina.on('error', (error: Error) => process.emitWarning(error));
  }

  get queueSize(): number {
    return this.#waiting.size;
  }

  /** Runs a task; with a signal, its `state` must be a fresh shared Int32Array (queued). */
  run(message: WorkerTask, transferList: ArrayBuffer[], signal: AbortSignal | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const job: Job = { message, transferList, signal, resolve, reject, onAbort: () => this.#abort(job) };
      if (this.#running < this.threads) {
        this.#start(job);
      } else if (this.#waiting.size < this.maxQueue) {
        this.#waiting.add(job);
      } else {
        return reject(
          new WorkerQueueFullError(`all ${this.threads} worker threads are busy and ${this.maxQueue} tasks wait`),
        );
      }
      signal?.addEventListener('abort', job.onAbort, { once: true });
    });
  }

  #abort(job: Job): void {
    if (this.#waiting.delete(job)) {
      job.reject(abortError()); // it never reached a thread
      return;
    }
    const { state } = job.message;
    if (state === undefined) return;
    Atomics.store(state, 0, TaskState.cancelled);
    Atomics.notify(state, 0); // wakes a sleeping kernel, and a runFile task's signal
  }

  #start(job: Job): void {
    this.#running++;
    const settle = (error: unknown, value?: unknown) => {
      this.#running--;
      job.signal?.removeEventListener('abort', job.onAbort);
      if (job.signal?.aborted) job.reject(abortError());
      else if (error !== undefined) job.reject(error);
      else job.resolve(value);
      this.#next();
    };
    this.#piscina.run(job.message, { transferList: job.transferList }).then(
      (value) => settle(undefined, value),
      (error: unknown) => settle(error ?? new Error('worker task failed')),
    );
  }

  #next(): void {
    for (const job of this.#waiting) {
      if (this.#running >= this.threads) return;
      this.#waiting.delete(job);
      this.#start(job);
    }
    if (this.#running === 0) this.#idle?.();
  }

  /** Lets every task settle, lets every thread finish loading, then stops the threads. */
  async close(): Promise<void> {
    if (this.#running > 0 || this.#waiting.size > 0) await new Promise<void>((done) => (this.#idle = done));
    // One no-op per thread: each settles only once its thread has loaded the worker module, so no
    // thread is stopped while it loads (see worker-entry.cts).
    await Promise.allSettled(Array.from({ length: this.threads }, () => this.#piscina.run({ task: 'noop', args: [] })));
    await this.#piscina.close();
  }
}

/** A module argument as the file: URL the worker imports. */
function moduleUrl(module: unknown): string {
  if (module instanceof URL && module.protocol === 'file:') return module.href;
  if (typeof module === 'string' && module !== '')
    return module.startsWith('file:') ? new URL(module).href : pathToFileURL(resolve(module)).href;
  throw invalidArgType('module', 'a path or a file URL', module);
}

/** Shared state for a task that can be aborted: queued → running (worker) → cancelled (caller). */
const stateFor = (signal: AbortSignal | undefined) => (signal ? new Int32Array(new SharedArrayBuffer(4)) : undefined);

/**
 * The TypeScript kernels on a piscina pool of worker threads. An abort while a task is queued
 * removes it from the queue; while it runs, the kernel sees the shared flag at its next poll and
 * stops — the worker lives on (no thread is terminated, unlike piscina's own abort).
 */
export function createWorkers(options: WorkerPoolOptions = {}): WorkerEngine {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const threads = integer('options.threads', options.threads ?? availableParallelism(), { min: 1, max: 1024 });
  const maxQueue =
    options.maxQueue === undefined
      ? Infinity
      : integer('options.maxQueue', options.maxQueue, { min: 0, max: 2 ** 31 - 1 });
  const closeTimeout = integer('options.closeTimeout', options.closeTimeout ?? 30_000, { min: 0, max: 2 ** 31 - 1 });
  const { resourceLimits } = options;
  let pool: Dispatcher | undefined;
  const start = () => (pool ??= new Dispatcher(threads, maxQueue, resourceLimits, closeTimeout));

  const fromWorker = (value: unknown): never =>
    (value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value) as never;

  return {
    name: 'workers',
    threads,
    get queueSize() {
      return pool?.queueSize ?? 0;
    },
    async runFile<R>(module: string | URL, task: unknown, options?: TaskOptions): Promise<R> {
      const file = moduleUrl(module);
      const signal = taskOptions(options);
      if (signal?.aborted) throw abortError();
      const message: FileTask = { file, input: task, state: stateFor(signal) };
      return (await start().run(message, [], signal)) as R;
    },
    async close() {
      const closing = pool;
      pool = undefined;
      await closing?.close();
    },
    ...defineAsync({
      run(task, rawArgs, signal) {
        // Byte arguments are copied now — the task may wait in the queue, and the caller may
        // reuse its buffers at once — and the copies are transferred rather than cloned again.
        const transferList: ArrayBuffer[] = [];
        const args = rawArgs.map((arg) => {
          if (!(arg instanceof Uint8Array)) return arg;
          const copy = new Uint8Array(arg);
          transferList.push(copy.buffer);
          return copy;
        });
        const message: KernelTask = { task, args, state: stateFor(signal) };
        return start().run(message, transferList, signal).then(fromWorker);
      },
    }),
  };
}

/** The default pool, sized to the cores, started on first use. */
export const workers = createWorkers();
