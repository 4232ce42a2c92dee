import { cppPool, createWorkers, rustPool, type WorkerEngine } from '../engines/index.js';
import { defaultMaxWaiting } from '../queue/protocol.js';
import { Gate } from './admission.js';
import { libuvThreadpoolSize, resolveConfig, type ServerConfig } from './config.js';
import type { ServerContext } from './context.js';
import { ServerDatabase } from './db/database.js';
import { dbOptions } from './db/options.js';
import { parseDatabaseUrl } from './db/target.js';
import { BodyMemory } from './http.js';
import { calibrate, LoopBudget, LoopGuard } from './loop-budget.js';
import { LoopMonitor } from './loop-monitor.js';
import { createMetrics } from './metrics.js';
import { requirePeers } from './peers.js';
import { Pressure } from './pressure.js';
import { createStrategies, type NativePools, type PoolName, type Strategy } from './strategies.js';

/** The queue's producer, loaded on first need: MissingPeerError names bullmq and ioredis when absent. */
async function queueProducer(): Promise<typeof import('../queue/producer.js')> {
  requirePeers('queue');
  return import('../queue/producer.js');
}

export interface ServerOptions extends Partial<ServerConfig> {
  /**
   * A worker pool to run the `worker` strategy and /good-ping on, e.g. one your application
   * shares; the server then leaves it open on close(). Default: its own, of `workers` threads.
   */
  workerPool?: WorkerEngine;
  /**
   * The C++ addon's pool for `cpp-pool`, as your application configured it: the server then
   * neither reconfigures nor closes it. Default: the process's `cppPool`, configured from
   * `poolThreads`, `poolNice` and `poolPolicy`, and closed on close().
   */
  cppPool?: NativePools['cppPool'];
  /** The Rust addon's pool for `rust-pool`, as `cppPool`. */
  rustPool?: NativePools['rustPool'];
}

/** What a server runs on, started before any route is mounted: what the routes' context holds, and more. */
export interface ServerResources extends ServerContext {
  /** libuv's threadpool size as libuv applied it when this process started. */
  readonly libuvThreads: number;
  /** Bytes of request bodies held across all requests (bounded by `maxBodyMemory`). */
  readonly bodyMemory: BodyMemory;
  /** Closes what the server started itself; pools it was handed stay open. */
  close(): Promise<void>;
}

/** The threads each pool off the loop has: what its admission gate admits. */
type PoolThreads = Record<Exclude<PoolName, 'loop' | 'queue'>, number>;

/**
 * Starts the worker and native pools (their threads up now, not on the first request), the queue
 * producer, the loop budget (its costs measured now), the gates, metrics and the database.
 */
export async function startResources(
  options: ServerOptions,
  /** Told when a thread of the server's own worker pool dies under its task and is replaced. */
  onWorkerExit?: (error: Error) => void,
): Promise<ServerResources> {
  const { workerPool, cppPool: givenCpp, rustPool: givenRust, ...settings } = options;
  const config = resolveConfig(settings);
  const libuvThreads = libuvThreadpoolSize();
  if (settings.threadpool !== undefined && libuvThreads !== config.threadpool) {
    process.emitWarning(
      `libuv's threadpool has ${libuvThreads} threads, not the ${config.threadpool} asked for: ` +
        'UV_THREADPOOL_SIZE must be set before Node starts (npm start does this for you)',
      { code: 'OFFLOOP_THREADPOOL' },
    );
  }
  const heap = config.workerHeapMb > 0 ? { resourceLimits: { maxOldGenerationSizeMb: config.workerHeapMb } } : {};
  const workers =
    workerPool ??
    createWorkers({
      threads: config.workers,
      closeTimeout: config.shutdownTimeout,
      policy: config.workerPolicy,
      niceIncrement: config.workerNice,
      ...heap,
      ...(onWorkerExit ? { onWorkerExit } : {}),
    });
  await workers.noop();
  // The addons' pools: the process's own ones configured as asked; ones handed to us as they are.
  const pools: NativePools = { cppPool: givenCpp ?? cppPool, rustPool: givenRust ?? rustPool };
  const owned = [givenCpp ? undefined : cppPool, givenRust ? undefined : rustPool].filter((p) => p !== undefined);
  for (const pool of owned) {
    pool.configure({ threads: config.poolThreads, nice: config.poolNice, policy: config.poolPolicy });
  }
  for (const pool of Object.values(pools)) await pool.noop();
  // The queue's jobs wait in Redis, bounded there across all servers (--max-queue waiting jobs).
  // bullmq and ioredis are loaded only for the queue: a server without REDIS_URL needs neither.
  const queue = config.redisUrl
    ? new (await queueProducer()).QueueProducer({
        redisUrl: config.redisUrl,
        maxWaiting: config.maxQueue || defaultMaxWaiting,
        timeoutMs: config.timeout,
      })
    : null;
  await queue?.ready(2000); // Redis away at start: serve the rest now, the queue once it is back
  const strategies = createStrategies(workers, queue, pools);
  const threads: PoolThreads = {
    libuv: libuvThreads,
    workers: workers.threads,
    'cpp-pool': pools.cppPool.stats().threads,
    'rust-pool': pools.rustPool.stats().threads,
  };
  const gates = gatesFor(strategies, threads, config);
  // The loop strategies' per-unit costs, measured once now, with a few short runs each.
  const costs = new Map<string, ReturnType<typeof calibrate>>();
  for (const s of strategies.values()) if (s.sync) costs.set(s.name, calibrate(s.sync));
  const loop = new LoopGuard(new LoopBudget({ maxLoopMs: config.maxLoopMs, maxShare: config.maxLoopShare }), costs);
  const bodyMemory = new BodyMemory(config.maxBodyMemory);
  const monitor = new LoopMonitor();
  const pressure = new Pressure(config, monitor);
  const metrics = createMetrics({
    monitor,
    pressure,
    // Started by `offloop` as one of several processes: the supervisor merges their metrics.
    clustered: config.processes > 1 && process.env.OFFLOOP_ROLE === 'server' && process.send !== undefined,
    gates,
    strategies,
    pools: () => threads,
    scheduled: [...Object.values(pools), workers],
    bodyBytes: () => bodyMemory.used,
  });
  // Unreachable at start is no reason not to serve: the database routes answer 503 until it is back.
  const db = new ServerDatabase(
    parseDatabaseUrl(config.databaseUrl),
    dbOptions(config.timeout, config.dbPoolSize),
    config.maxLoopMs,
  );
  const unreachable = await db.check();
  if (unreachable) {
    const why = `the database is unavailable (${unreachable.message})`;
    console.error(`offloop: ${why}; its routes answer 503 until it is reachable`);
  }
  return {
    config,
    strategies,
    gates,
    loop,
    workers,
    metrics,
    pressure,
    db,
    libuvThreads,
    bodyMemory,
    async close() {
      monitor.stop();
      metrics.close();
      if (!workerPool) await workers.close();
      await Promise.all([...owned.map((pool) => pool.close()), queue?.close(), db.close()]);
    },
  };
}

/**
 * One gate per pool of threads, shared by every strategy that runs there (cpp, rust and builtin
 * all run on libuv's pool: together they get its threads, not three times as many). The queue's
 * bound is in Redis, across servers.
 */
function gatesFor(
  strategies: ReadonlyMap<string, Strategy>,
  threads: PoolThreads,
  config: ServerConfig,
): ReadonlyMap<PoolName, Gate> {
  const gates = new Map<PoolName, Gate>();
  for (const s of strategies.values()) {
    if (s.pool === 'loop' || s.pool === 'queue' || gates.has(s.pool)) continue;
    const size = threads[s.pool];
    gates.set(s.pool, new Gate(config.maxInFlight || size, config.maxQueue || 4 * size));
  }
  return gates;
}
