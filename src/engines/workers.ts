import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { TaskState, abortError } from '../kernels/cancel.js';
import { invalidArgType } from '../errors.js';
import { defineAsync } from './define.js';
import { integer, taskOptions } from './validate.js';
import type { AsyncKernels, TaskOptions } from './types.js';
import type { WorkerTask } from './worker.js';

export interface WorkerPoolOptions {
  /** Worker threads in the pool. Default: the number of cores (`os.availableParallelism()`). */
  threads?: number;
  /** Tasks that may wait for a thread; past it `run` rejects. Default: unbounded. */
  maxQueue?: number;
  /** Limits for each worker's V8 heap (see `worker_threads.ResourceLimits`). */
  resourceLimits?: ConstructorParameters<typeof Piscina>[0] extends infer O ? O extends { resourceLimits?: infer R } ? R : never : never;
}

export interface WorkerEngine extends AsyncKernels {
  readonly name: 'workers';
  /** Threads the pool runs (it starts on first use). */
  readonly threads: number;
  /** Tasks waiting for a thread now. */
  readonly queueSize: number;
  /**
   * Runs the default export of your own module (a path or file URL) on this pool, with `task` as
   * its argument: the place for your own blocking code. An abort removes a queued task; a running
   * one is stopped by terminating its worker (piscina replaces it), since your code has no flag to poll.
   */
  runFile<R = unknown>(module: string | URL, task: unknown, options?: TaskOptions): Promise<R>;
  /** Stops the pool's threads once their tasks have settled; the next call starts it again. */
  close(): Promise<void>;
}

/**
 * The TypeScript kernels on a piscina pool of worker threads. An abort while a task is queued
 * removes it from the queue; while it runs, the kernel sees the shared flag at its next poll and
 * stops — the worker lives on (no thread is terminated, unlike piscina's own abort).
 */
export function createWorkers(options: WorkerPoolOptions = {}): WorkerEngine {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const threads = integer('options.threads', options.threads ?? availableParallelism(), { min: 1, max: 1024 });
  const maxQueue = options.maxQueue === undefined ? Infinity : integer('options.maxQueue', options.maxQueue, { min: 0, max: 2 ** 31 - 1 });
  let pool: Piscina<WorkerTask, unknown> | undefined;
  const start = () => {
    if (pool) return pool;
    pool = new Piscina({
      filename: new URL('./worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      maxQueue,
      stricterFIFO: true, // piscina otherwise sends a task it could not place yet to the back of the queue
      ...(options.resourceLimits === undefined ? {} : { resourceLimits: options.resourceLimits }),
    });
    // An abort that lands just as piscina hands a task to a worker makes piscina terminate that
    // worker; if the worker's answer was already on its way, piscina then reports it as an
    // 'error' event — which, unheard, would crash the process. The task itself was settled.
    pool.on('error', (error: Error) => {
      if (!error.message.startsWith('Unexpected message from Worker')) process.emitWarning(error);
    });
    return pool;
  };

  const fromWorker = (value: unknown): never =>
    (value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value) as never;

  return {
    name: 'workers',
    threads,
    get queueSize() {
      return pool?.queueSize ?? 0;
    },
    async runFile<R>(module: string | URL, task: unknown, options?: TaskOptions): Promise<R> {
      const filename = module instanceof URL ? module.href : module;
      if (typeof filename !== 'string') throw invalidArgType('module', 'a path or a file URL', module);
      const signal = taskOptions(options);
      if (signal?.aborted) throw abortError();
      try {
        return (await start().run(task as WorkerTask, { filename, ...(signal ? { signal } : {}) })) as R;
      } catch (error) {
        throw signal?.aborted ? abortError() : error;
      }
    },
    async close() {
      const closing = pool;
      pool = undefined;
      await closing?.close();
    },
    ...defineAsync({
      run(task, rawArgs, signal) {
        const running = start();
        // Byte arguments are copied now — piscina posts the task later, and the caller may reuse
        // its buffers at once — and the copies are transferred rather than cloned again.
        const transferList: ArrayBuffer[] = [];
        const args = rawArgs.map((arg) => {
          if (!(arg instanceof Uint8Array)) return arg;
          const copy = new Uint8Array(arg);
          transferList.push(copy.buffer);
          return copy;
        });
        if (signal === undefined) return running.run({ task, args }, { transferList }).then(fromWorker);
        const state = new Int32Array(new SharedArrayBuffer(4));
        const dequeue = new AbortController();
        const onAbort = () => {
          const was = Atomics.compareExchange(state, 0, TaskState.queued, TaskState.cancelled);
          if (was === TaskState.queued) {
            dequeue.abort();
          } else if (was === TaskState.running) {
            Atomics.store(state, 0, TaskState.cancelled);
            Atomics.notify(state, 0); // wakes a sleeping kernel
          }
        };
        signal.addEventListener('abort', onAbort, { once: true });
        return running
          .run({ task, args, state }, { signal: dequeue.signal, transferList })
          .then(fromWorker, (error: unknown) => {
            throw Atomics.load(state, 0) === TaskState.cancelled ? abortError() : error;
          })
          .finally(() => signal.removeEventListener('abort', onAbort));
      },
    }),
  };
}

/** The default pool, sized to the cores, started on first use. */
export const workers = createWorkers();
