import { pbkdf2 as cryptoPbkdf2, pbkdf2Sync as cryptoPbkdf2Sync } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import {
  type AsyncKernels,
  cpp,
  cppPool,
  js,
  type NativePoolEngine,
  rust,
  rustPool,
  type SyncKernels,
  type WorkerEngine,
} from '../engines/index.js';
import { kernelNames } from '../engines/kernels.js';
import type { KernelArgs } from '../engines/types.js';
import { abortError } from '../errors.js';
import type { QueueProducer } from '../queue/producer.js';
import { queueStrategy } from '../queue/strategy.js';
import type { PoolName, Strategy, StrategyName } from './strategy.js';

export { type PoolName, type RunInfo, type Strategy, type StrategyName, strategyNames } from './strategy.js';

/** The addons' own pools a server runs its `cpp-pool` and `rust-pool` strategies on. */
export interface NativePools {
  readonly cppPool: NativePoolEngine;
  readonly rustPool: NativePoolEngine;
}

const allKernels = kernelNames;
type Call = (...args: unknown[]) => unknown;

function onLoop(name: StrategyName, engine: SyncKernels, where: string): Strategy {
  return {
    name,
    where,
    blocksLoop: true,
    pool: 'loop',
    kernels: allKernels,
    sync: engine,
    // Nothing can interrupt it: it holds the loop, the abort's own event included.
    cancellable: () => false,
    // The kernel runs right here, holding the loop; a throw becomes a rejection.
    run: (kernel, args) => new Promise((resolve) => resolve((engine[`${kernel}Sync`] as Call)(...args) as never)),
  };
}

function offLoop(name: StrategyName, engine: AsyncKernels, pool: PoolName, where: string): Strategy {
  return {
    name,
    where,
    blocksLoop: false,
    pool,
    kernels: allKernels,
    cancellable: () => true, // every kernel polls its cancel flag
    run: (kernel, args, signal) => (engine[kernel] as Call)(...args, { signal }) as never,
  };
}

const pbkdf2Async = promisify(cryptoPbkdf2);

/** Node's own async natives, where Node has one: crypto.pbkdf2 (libuv's pool) and timers. */
const builtin: Strategy = {
  name: 'builtin',
  where: "Node's own async API: crypto.pbkdf2 on libuv's threadpool (OpenSSL), timers for sleep",
  blocksLoop: false,
  pool: 'libuv',
  kernels: ['pbkdf2', 'sleep'],
  sync: {
    ...js,
    pbkdf2Sync: (password, salt, rounds, keylen) => cryptoPbkdf2Sync(password, salt, rounds, keylen, 'sha256'),
  },
  cancellable: (kernel) => kernel !== 'pbkdf2', // OpenSSL's pbkdf2 cannot be stopped; a timer can
  async run(kernel, args, signal) {
    if (signal?.aborted) throw abortError(signal);
    if (kernel === 'pbkdf2') {
      const [password, salt, iterations, keylen] = args as KernelArgs['pbkdf2'];
      // OpenSSL's pbkdf2 cannot be interrupted once it runs: we await its end whatever happens, so
      // the admission slot stays held as long as libuv's thread really is.
      return (await pbkdf2Async(password, salt, iterations, keylen, 'sha256')) as never;
    }
    if (kernel === 'sleep') {
      const [ms] = args as KernelArgs['sleep'];
      try {
        return (await delay(ms, undefined, signal ? { signal } : {})) as never;
      } catch (error) {
        throw signal?.aborted ? abortError(signal) : error;
      }
    }
    throw new Error(`builtin has no ${kernel}`);
  },
};

/**
 * The strategy table, over this server's worker pool and native pools (default: the process's
 * own); with a queue producer, `queue` is on.
 */
export function createStrategies(
  workers: WorkerEngine,
  queue?: QueueProducer | null,
  pools: NativePools = { cppPool, rustPool },
): ReadonlyMap<StrategyName, Strategy> {
  const list: Strategy[] = [
    onLoop('blocking', js, 'TypeScript kernel on the event loop'),
    onLoop('cpp-sync', cpp, 'C++ kernel, called synchronously on the event loop'),
    onLoop('rust-sync', rust, 'Rust kernel, called synchronously on the event loop'),
    offLoop('worker', workers, 'workers', 'TypeScript kernel on a worker_threads pool (piscina)'),
    offLoop('cpp', cpp, 'libuv', "C++ kernel as async work on libuv's threadpool"),
    offLoop('rust', rust, 'libuv', "Rust kernel as async work on libuv's threadpool"),
    offLoop(
      'cpp-pool',
      pools.cppPool,
      'cpp-pool',
      "C++ kernel on the addon's own lower-priority thread pool (libuv's stays free for I/O)",
    ),
    offLoop(
      'rust-pool',
      pools.rustPool,
      'rust-pool',
      "Rust kernel on the addon's own lower-priority thread pool (libuv's stays free for I/O)",
    ),
    builtin,
    // Listed, on or off, only where a server asked for it (null: off), so that in-process
    // measurements of the table need no Redis.
    ...(queue === undefined ? [] : [queueStrategy(queue ?? undefined)]),
  ];
  return new Map(list.map((s) => [s.name, s]));
}
