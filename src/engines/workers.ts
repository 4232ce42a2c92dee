import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { abortError, invalidArgType } from '../errors.js';
import { TaskState } from '../kernels/cancel.js';
import type { PoolPolicy, PoolStats } from './addon.js';
import { defineAsync } from './define.js';
import { Drain } from './drain.js';
import { policy } from './native.js';
import { TaskTimes } from './task-times.js';
import type { AsyncKernels, TaskOptions } from './types.js';
import { integer, taskOptions } from './validate.js';
import type { FileTask, KernelTask, WorkerSettings, WorkerTask } from './worker.js';
// The module piscina loads (this import also makes tsc build it: tsconfig's include has no .cts).
import type workerEntry from './worker-entry.cjs';

export type { RunFileContext } from './worker.js';

type ResourceLimits = ConstructorParameters<typeof Piscina>[0] extends infer O
  ? O extends { resourceLimits?: infer R }
    ? R
    : never
  : never;

/** What `createWorkers()` accepts, beyond `threads`: the limits of each number. */
export const workerPoolLimits = {
  threads: { min: 1, max: 1024 },
  maxQueue: { min: 0, max: 2 ** 31 - 1 },
  closeTimeout: { min: 0, max: 2 ** 31 - 1 },
  idleTimeout: { min: 0, max: 2 ** 31 - 1 },
  niceIncrement: { min: 0, max: 19 },
} as const;

export interface WorkerPoolOptions {
  /** Worker threads in the pool, at most. Default: the number of cores (`os.availableParallelism()`). */
  threads?: number;
  /**
   * Threads kept alive while idle (piscina's `minThreads`), 0..threads. Default: `threads`. The
   * others start when tasks need them and stop after `idleTimeout` ms without one.
   */
  minThreads?: number;
  /** How long a thread beyond `minThreads` may stay idle before it stops, in ms (piscina's). Default: 0. */
  idleTimeout?: number;
  /**
   * How much each worker thread lowers its own priority, 0..19 (piscina's `niceIncrement`): it
   * adds this to its nice value, so the event loop wins the CPU from busy workers. Linux only:
   * each thread calls `os.setPriority()` on itself, which needs no privilege and leaves the rest
   * of the process alone; elsewhere that call would reprioritize the whole process, so it is a
   * no-op (and `stats().nice` says 0). Default: 0.
   */
  niceIncrement?: number;
  /**
   * How the worker threads are scheduled, as a native pool's are (`NativePoolEngine.configure`):
   * 'normal' (default) leaves them as Node starts them; 'idle' (Linux: SCHED_IDLE) lets them run
   * only when nothing else wants the CPU, so the event loop always wins it, and 'batch' is
   * SCHED_BATCH. A thread sets its own policy through the C++ addon (the Rust one if it is absent),
   * which needs no privilege; a thread that cannot load either fails its tasks, saying why.
   */
  policy?: PoolPolicy;
  /**
   * Called when a thread dies under its task (`process.exit()` in a runFile module, a heap past
   * `resourceLimits`), after that task rejected with the error; piscina starts another thread.
   * The server logs it as a `worker-replaced` event.
   */
  onWorkerExit?: (error: Error) => void;
  /** Tasks that may wait for a thread; past it a call rejects with WorkerQueueFullError. Default: unbounded. */
  maxQueue?: number;
  /** Limits for each worker's V8 heap (see `worker_threads.ResourceLimits`). */
  resourceLimits?: ResourceLimits;
  /** How long `close()` waits for running tasks before it stops their threads, in ms. Default: 30 000. */
  closeTimeout?: number;
}

export interface WorkerEngine extends AsyncKernels {
  readonly name: 'workers';
  /** Threads the pool runs, at most (it starts on first use). */
  readonly threads: number;
  /** Tasks waiting for a thread now. */
  readonly queueSize: number;
  /**
   * The pool's threads (0 until it starts), the nice increment and policy they run at, tasks
   * queued and running, and since it started:
   * tasks completed, utilization, and run and wait times (ms).
   */
  stats(): PoolStats;
  /** Resolves once no task is queued or running (at once if none is); see README "Draining". */
  drained(): Promise<void>;
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
  /** performance.now() when it was accepted. */
  queuedAt: number;
}

/** A pool's settings, as validated from WorkerPoolOptions. */
interface Settings {
  threads: number;
  minThreads: number;
  idleTimeout: number | undefined;
  maxQueue: number;
  closeTimeout: number;
  resourceLimits: ResourceLimits | undefined;
  worker: WorkerSettings;
  onWorkerExit: ((error: Error) => void) | undefined;
}

/**
 * Whether a task's error is its thread dying under it: piscina rejects the task a dead thread ran
 * with the exit (`process.exit()` in the task) or Node's ERR_WORKER_* error (a heap past
 * `resourceLimits`), and starts another thread.
 */
const threadDied = (error: unknown): error is Error =>
  error instanceof Error &&
  (/^worker exited with code/.test(error.message) || /^ERR_WORKER_/.test(String((error as { code?: unknown }).code)));

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
  readonly #times = new TaskTimes();
  /** This pool's pending tasks (for close()), and the engine's (drained(): a closing pool's and its successor's). */
  readonly #drains: readonly [Drain, Drain];
  readonly threads: number;
  readonly maxQueue: number;
  #running = 0;

  constructor(
    readonly settings: Settings,
    engineDrain: Drain,
  ) {
    const { threads, minThreads, idleTimeout, maxQueue, closeTimeout, resourceLimits, worker } = settings;
    this.threads = threads;
    this.maxQueue = maxQueue;
    this.#drains = [new Drain(), engineDrain];
    // niceIncrement is applied by our worker itself (worker.ts), not by piscina: piscina's needs an
    // optional native package, without which it silently does nothing.
    this.#piscina = new Piscina({
      filename: new URL('./worker-entry.cjs', import.meta.url).href,
      minThreads,
      maxThreads: threads,
      closeTimeout,
      workerData: worker,
      ...(idleTimeout === undefined ? {} : { idleTimeout }),
      ...(resourceLimits === undefined ? {} : { resourceLimits }),
    });
    // piscina reports here what belongs to no task (say, a close that timed out); unheard, an
    // 'error' event would crash the process.
    this.#piscina.on('error', (error: Error) => process.emitWarning(error));
  }

  get queueSize(): number {
    return this.#waiting.size;
  }

  stats(): PoolStats {
    const { threads, worker } = this.settings;
    return {
      threads: this.#piscina.threads.length,
      nice: worker.nice,
      policy: worker.policy,
      queued: this.#waiting.size,
      running: this.#running,
      ...this.#times.stats(threads),
    };
  }

  /** Runs a task; with a signal, its `state` must be a fresh shared Int32Array (queued). */
  run(message: WorkerTask, transferList: ArrayBuffer[], signal: AbortSignal | undefined): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const job: Job = {
        message,
        transferList,
        signal,
        resolve,
        reject,
        onAbort: () => this.#abort(job),
        queuedAt: performance.now(),
      };
      if (this.#running < this.threads) {
        for (const drain of this.#drains) drain.begin();
        this.#start(job);
      } else if (this.#waiting.size < this.maxQueue) {
        for (const drain of this.#drains) drain.begin();
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
      job.reject(abortError(job.signal)); // it never reached a thread
      for (const drain of this.#drains) drain.end();
      return;
    }
    const { state } = job.message;
    if (state === undefined) return;
    Atomics.store(state, 0, TaskState.cancelled);
    Atomics.notify(state, 0); // wakes a sleeping kernel, and a runFile task's signal
  }

  #start(job: Job): void {
    this.#running++;
    const startedAt = performance.now();
    this.#times.started(job.queuedAt, startedAt);
    const settle = (error: unknown, value?: unknown) => {
      this.#running--;
      this.#times.settled(startedAt);
      job.signal?.removeEventListener('abort', job.onAbort);
      if (job.signal?.aborted) job.reject(abortError(job.signal));
      else if (error !== undefined) job.reject(error);
      else job.resolve(value);
      if (threadDied(error)) this.settings.onWorkerExit?.(error);
      for (const drain of this.#drains) drain.end();
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
  }

  /** Lets every task settle, lets every thread finish loading, then stops the threads. */
  async close(): Promise<void> {
    await this.#drains[0].drained();
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
  const settings = workerSettings(options);
  const { threads } = settings;
  const drain = new Drain(); // every task of this engine, on whichever pool: close() and restart keep one count
  let pool: Dispatcher | undefined;
  const start = () => (pool ??= new Dispatcher(settings, drain));

  const fromWorker = (value: unknown): never =>
    (value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value) as never;

  return {
    name: 'workers',
    threads,
    get queueSize() {
      return pool?.queueSize ?? 0;
    },
    stats: () =>
      pool?.stats() ?? {
        ...{ threads: 0, nice: 0, policy: null, queued: 0, running: 0, completed: 0, utilization: 0 },
        ...{ runTime: { p50: 0, p99: 0, max: 0 }, waitTime: { p50: 0, p99: 0, max: 0 } },
      },
    drained: () => drain.drained(),
    async runFile<R>(module: string | URL, task: unknown, options?: TaskOptions): Promise<R> {
      const file = moduleUrl(module);
      const signal = taskOptions(options);
      if (signal?.aborted) throw abortError(signal);
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

const callback = <F>(name: string, value: F | undefined): F | undefined => {
  if (value !== undefined && typeof value !== 'function') throw invalidArgType(name, 'of type function', value);
  return value;
};

/** WorkerPoolOptions, validated, with their defaults. */
function workerSettings(options: WorkerPoolOptions): Settings {
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const limits = workerPoolLimits;
  const threads = integer('options.threads', options.threads ?? availableParallelism(), limits.threads);
  const minThreads =
    options.minThreads === undefined
      ? threads
      : integer('options.minThreads', options.minThreads, { min: 0, max: threads });
  const optional = (name: keyof typeof limits, value: number | undefined) =>
    value === undefined ? undefined : integer(`options.${name}`, value, limits[name]);
  const niceIncrement = optional('niceIncrement', options.niceIncrement) ?? 0;
  return {
    threads,
    minThreads,
    idleTimeout: optional('idleTimeout', options.idleTimeout),
    maxQueue: optional('maxQueue', options.maxQueue) ?? Infinity,
    closeTimeout: optional('closeTimeout', options.closeTimeout) ?? 30_000,
    resourceLimits: options.resourceLimits,
    onWorkerExit: callback('options.onWorkerExit', options.onWorkerExit),
    // Only Linux lowers a single thread this way (see WorkerPoolOptions.niceIncrement).
    worker: {
      nice: process.platform === 'linux' ? niceIncrement : 0,
      policy: options.policy === undefined ? 'normal' : policy('options.policy', options.policy),
    },
  };
}

/** The default pool, sized to the cores, started on first use. */
export const workers = createWorkers();
