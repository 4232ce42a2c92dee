/**
 * The piscina worker (loaded through worker-entry.cts): runs one TypeScript kernel, or the
 * default export of a caller's module (`runFile`), per task, off the event loop.
 */
import { getPriority, setPriority } from 'node:os';
import { isMainThread, workerData } from 'node:worker_threads';
import { move } from 'piscina';
import { abortError } from '../errors.js';
import { CancelFlag, TaskState } from '../kernels/cancel.js';
import { loadAddon, type NativeBinding, type PoolPolicy } from './addon.js';
import { runKernel } from './js.js';
import type { KernelArgs, KernelName, TaskName } from './types.js';

/** A kernel task. */
export interface KernelTask {
  task: TaskName;
  args: unknown[];
  /** Shared with the caller: queued → running here; the caller sets cancelled on abort. */
  state?: Int32Array | undefined;
}

/** A `runFile` task: the default export of the module at `file` (a file: URL), called with `input`. */
export interface FileTask {
  file: string;
  input: unknown;
  state?: Int32Array | undefined;
}

export type WorkerTask = KernelTask | FileTask;

/**
 * What a `runFile` module's default export gets as its second argument. It is also a CancelFlag,
 * so it can be handed to offloop's own kernels (say, `sleep(ms, context)`) to stop them on abort.
 */
export interface RunFileContext {
  /** The shared cancel state the caller sets (what the kernels poll). */
  readonly state: Int32Array;
  /** Aborts when the caller's signal does — seen by code that awaits (the worker's loop must turn). */
  readonly signal: AbortSignal;
  /** Whether the caller has aborted: readable at any time, also from synchronous code. */
  readonly cancelled: boolean;
  /** Throws the AbortError the engines reject with, if the caller has aborted. */
  throwIfCancelled(): void;
}

/** What every thread of a pool is told when it starts (piscina's `workerData`). */
export interface WorkerSettings {
  /** How much the thread lowers its own priority (Linux only: see WorkerPoolOptions.niceIncrement). */
  nice: number;
  /** How the thread is scheduled (see WorkerPoolOptions.policy). */
  policy: PoolPolicy;
}

/**
 * On Linux, setpriority() on "process" 0 changes the calling thread alone: this worker lowers
 * itself, and neither the event loop nor the other threads are touched. Raising a nice value
 * needs no privilege; if it fails anyway, the pool still runs, and says so once per thread.
 */
function lowerPriority({ nice, policy }: WorkerSettings): void {
  if (policy !== 'normal') {
    // JavaScript cannot change a thread's policy: the addons can, with the pools' own code.
    // The nice it inherited plus the increment: an absolute value could raise a process started at
    // a higher nice (which needs privilege, and is not ours to do).
    const niceNow = Math.min(19, getPriority(0) + nice);
    if (!threadPolicyAddon().setThreadPolicy(policy, niceNow))
      process.emitWarning(`offloop: a worker thread could not take the ${policy} policy`);
    return;
  }
  if (nice === 0) return;
  try {
    setPriority(0, Math.min(19, getPriority(0) + nice));
  } catch (error) {
    process.emitWarning(`offloop: a worker thread could not lower its priority: ${(error as Error).message}`);
  }
}

/** The C++ addon, or the Rust one where it does not load; AddonLoadError if neither does. */
function threadPolicyAddon(): NativeBinding {
  try {
    return loadAddon('cpp');
  } catch {
    return loadAddon('rust');
  }
}
if (!isMainThread && typeof (workerData as WorkerSettings | undefined)?.nice === 'number') lowerPriority(workerData);

export default function run(message: WorkerTask): unknown {
  if ('file' in message) return runFile(message);
  const { task, args, state } = message;
  if (task === 'noop') return undefined;
  const result: unknown = runKernel(task, args as KernelArgs[KernelName], claim(state));
  // Transfer result bytes instead of copying them (kernels allocate them unpooled).
  return result instanceof Uint8Array ? move(result) : result;
}

/** Marks a task running, unless its caller cancelled it while it was on its way here. */
function claim(state: Int32Array | undefined): CancelFlag | undefined {
  if (state === undefined) return undefined;
  if (Atomics.compareExchange(state, 0, TaskState.queued, TaskState.running) === TaskState.cancelled)
    throw abortError();
  return new CancelFlag(state);
}

type Main = (input: unknown, context: RunFileContext) => unknown;
const modules = new Map<string, Promise<Main>>();

/** Loads a caller's module once per worker, with import() (see worker-entry.cts for why not require). */
function load(file: string): Promise<Main> {
  let loading = modules.get(file);
  if (loading === undefined) {
    loading = import(file).then((module: { default?: unknown }) => {
      if (typeof module.default !== 'function') throw new TypeError(`${file} has no default export that is a function`);
      return module.default as Main;
    });
    loading.catch(() => modules.delete(file)); // a failed load is retried by the next task
    modules.set(file, loading);
  }
  return loading;
}

async function runFile({ file, input, state }: FileTask): Promise<unknown> {
  const context = new Context(claim(state)?.state);
  const main = await load(file);
  context.throwIfCancelled();
  try {
    return await main(input, context);
  } finally {
    context.dispose();
  }
}

type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: boolean; value: Promise<unknown> | string };

/** A RunFileContext whose signal is made only if the task reads it. */
class Context extends CancelFlag implements RunFileContext {
  #controller: AbortController | undefined;
  #done = false;

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      const watch = (): void => {
        if (this.#done) return;
        if (this.cancelled) {
          controller.abort(abortError());
          return;
        }
        // The caller stores `cancelled` and notifies; dispose() notifies too, so no waiter outlives the task.
        const waited = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync(
          this.state,
          0,
          Atomics.load(this.state, 0),
        );
        if (waited.async) void (waited.value as Promise<unknown>).then(watch);
        else watch();
      };
      watch();
    }
    return this.#controller.signal;
  }

  dispose(): void {
    this.#done = true;
    if (this.#controller !== undefined) Atomics.notify(this.state, 0);
  }
}
