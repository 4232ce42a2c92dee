import * as uWS from './uws.js';
import { cppPool, createWorkers, rustPool, type WorkerEngine } from '../index.js';
import { Gate, OverloadedError } from './admission.js';
import { type ServerConfig, libuvThreadpoolSize, resolveConfig } from './config.js';
import { ServerDatabase } from './db/database.js';
import { dbOptions } from './db/options.js';
import { parseDatabaseUrl } from './db/target.js';
import { BodyMemory, Exchange, HttpError } from './http.js';
import { calibrate, LoopBudget, LoopGuard } from './loop-budget.js';
import { createMetrics } from './metrics.js';
import { type Route, type ServerContext, routes } from './routes.js';
import { createStrategies, type PoolName, type Strategy, type StrategyName } from './strategies.js';
import { QueueFullError, QueueProducer, QueueUnavailableError, defaultMaxWaiting } from '../queue/producer.js';

export interface OffloopServer {
  /** The port it listens on (the real one when asked for port 0). */
  readonly port: number;
  readonly url: string;
  readonly config: ServerConfig;
  readonly strategies: ReadonlyMap<StrategyName, Strategy>;
  /** libuv's threadpool size as libuv applied it when this process started. */
  readonly libuvThreads: number;
  /** The seed routes' database (never a password). */
  readonly database: { kind: 'sqlite' | 'postgres'; name: string };
  /** Requests being handled now. */
  readonly inFlight: number;
  /** Bytes of request bodies held now (bounded by `maxBodyMemory`). */
  readonly bodyBytes: number;
  /**
   * Graceful shutdown: stops accepting, lets in-flight requests finish for up to
   * `shutdownTimeout` ms (the rest are answered 503 and their work cancelled), closes every
   * connection and the pools. Calling it again returns the same promise.
   */
  close(): Promise<void>;
  /** Stops every in-flight request now: each is answered 503 and its work cancelled. */
  abort(): void;
}

/** What stopping a request did to its work, in words. */
const workFate = (ex: Exchange) =>
  ex.cancellable ? 'its work was cancelled' : 'its work cannot be stopped and runs to its end';

export interface ServerOptions extends Partial<ServerConfig> {
  /**
   * A worker pool to run the `worker` strategy and /good-ping on, e.g. one your application
   * shares; the server then leaves it open on close(). Default: its own, of `workers` threads.
   */
  workerPool?: WorkerEngine;
}

/** Starts offloop's HTTP server. Options not given take the documented defaults (not the environment). */
export async function createServer(options: ServerOptions = {}): Promise<OffloopServer> {
  const { workerPool, ...settings } = options;
  const config = resolveConfig(settings);
  const libuvThreads = libuvThreadpoolSize();
  if (settings.threadpool !== undefined && libuvThreads !== config.threadpool) {
    process.emitWarning(
      `libuv's threadpool has ${libuvThreads} threads, not the ${config.threadpool} asked for: UV_THREADPOOL_SIZE must be set before Node starts (npm start does this for you)`,
      { code: 'OFFLOOP_THREADPOOL' },
    );
  }
  const workers =
    workerPool ??
    createWorkers({
      threads: config.workers,
      ...(config.workerHeapMb > 0 ? { resourceLimits: { maxOldGenerationSizeMb: config.workerHeapMb } } : {}),
    });
  await workers.noop(); // start the worker threads now, not on the first request
  // The addons' own pools: sized and reniced as configured, started now rather than on first use.
  for (const pool of [cppPool, rustPool]) {
    pool.configure({ threads: config.poolThreads, nice: config.poolNice });
    await pool.noop();
  }
  // The queue's jobs wait in Redis, bounded there across all servers (--max-queue waiting jobs).
  const queue = config.redisUrl
    ? new QueueProducer({
        redisUrl: config.redisUrl, maxWaiting: config.maxQueue || defaultMaxWaiting, timeoutMs: config.timeout,
      })
    : null;
  await queue?.ready(2000); // Redis away at start: serve the rest now, the queue once it is back
  const strategies = createStrategies(workers, queue);
  const threads: Record<Exclude<Strategy['pool'], 'loop' | 'queue'>, number> = {
    libuv: libuvThreads,
    workers: workers.threads,
    'cpp-pool': config.poolThreads,
    'rust-pool': config.poolThreads,
  };
  // One gate per pool of threads, shared by every strategy that runs there (cpp, rust and
  // builtin all run on libuv's pool: together they get its threads, not three times as many).
  // The queue's bound is in Redis, across servers.
  const gates = new Map<PoolName, Gate>();
  for (const s of strategies.values()) {
    if (s.pool === 'loop' || s.pool === 'queue' || gates.has(s.pool)) continue;
    const size = threads[s.pool];
    gates.set(s.pool, new Gate(config.maxInFlight || size, config.maxQueue || 4 * size));
  }
  // The loop strategies' per-unit costs, measured once now, with a few short runs each.
  const costs = new Map<string, ReturnType<typeof calibrate>>();
  for (const s of strategies.values()) if (s.sync) costs.set(s.name, calibrate(s.sync));
  const loop = new LoopGuard(new LoopBudget({ maxLoopMs: config.maxLoopMs, maxShare: config.maxLoopShare }), costs);
  const bodyMemory = new BodyMemory(config.maxBodyMemory);
  const metrics = createMetrics({ gates, strategies, pools: () => threads, bodyBytes: () => bodyMemory.used });
  // Unreachable at start is no reason not to serve: the database routes answer 503 until it is back.
  const db = new ServerDatabase(parseDatabaseUrl(config.databaseUrl), dbOptions(config.timeout, config.dbPoolSize));
  const unreachable = await db.check();
  if (unreachable) console.error(`offloop: the database is unavailable (${unreachable.message}); its routes answer 503 until it is reachable`);
  const ctx: ServerContext = { config, strategies, gates, loop, workers, metrics, db };

  const active = new Set<Exchange>();
  let draining = false;
  let drained: (() => void) | undefined;

  function finish(route: Route, ex: Exchange, timer: NodeJS.Timeout | undefined): void {
    clearTimeout(timer);
    if (!ex.finished) ex.fail(new HttpError(500, 'the route gave no answer'));
    ex.release();
    active.delete(ex);
    metrics.observe(route.pattern, ex.strategy, ex.status ?? 500, (performance.now() - ex.startedAt) / 1000);
    if (draining && active.size === 0) drained?.();
  }

  function answerError(ex: Exchange, error: unknown): void {
    if (ex.finished) return;
    if (error instanceof HttpError) {
      ex.fail(error);
    } else if (ex.stopReason !== undefined) {
      // 'timeout' and 'shutdown' were answered when they happened; 'client': nobody is left to answer.
    } else if (error instanceof QueueUnavailableError) {
      const options = { headers: { 'retry-after': '1' }, extra: { strategy: ex.strategy, reason: error.message } };
      ex.fail(new HttpError(503, `strategy ${ex.strategy} is unavailable: ${error.message}`, options));
    } else if (error instanceof QueueFullError) {
      ex.fail(new HttpError(503, `strategy ${ex.strategy} is at capacity; retry shortly`, { headers: { 'retry-after': '1' }, extra: { strategy: ex.strategy } }));
    } else if (error instanceof OverloadedError) {
      const pool = strategies.get(ex.strategy as StrategyName)?.pool;
      ex.fail(new HttpError(503, `the ${pool} pool (strategy ${ex.strategy}) is at capacity; retry shortly`, {
        headers: { 'retry-after': '1' },
        extra: { strategy: ex.strategy, pool },
      }));
    } else {
      console.error(`offloop: ${ex.method} ${ex.url} failed:`, error);
      ex.fail(new HttpError(500, 'internal error'));
    }
  }

  function mount(app: uWS.TemplatedApp, route: Route): void {
    app[route.method](route.pattern, (res, req) => {
      const ex = new Exchange(res, req, route.params ?? 0);
      if (draining) {
        ex.fail(new HttpError(503, 'the server is shutting down', { headers: { 'retry-after': '1' }, close: true }));
        metrics.observe(route.pattern, '-', 503, 0);
        return;
      }
      // Admission before a byte of the body is read: route, strategy, capacity, type, length.
      try {
        const rule = route.accept?.(ex, ctx);
        if (rule) ex.readBody(rule, bodyMemory);
        else if (route.method === 'post') throw new Error(`${route.pattern} reads a body but declares none`);
      } catch (error) {
        answerError(ex, error);
        metrics.observe(route.pattern, ex.strategy, ex.status ?? 500, (performance.now() - ex.startedAt) / 1000);
        ex.release();
        return;
      }
      active.add(ex);
      const timer = route.timed
        ? setTimeout(() => {
            // A body still arriving is the client's delay (408); otherwise it is ours (504).
            ex.fail(
              ex.bodyComplete
                ? new HttpError(504, `the request took longer than ${config.timeout} ms; ${workFate(ex)}`, {
                    extra: { cancelled: ex.cancellable },
                  })
                : new HttpError(408, `the request body did not arrive within ${config.timeout} ms`, { close: true }),
            );
            ex.stop('timeout');
          }, config.timeout)
        : undefined;
      let outcome: void | Promise<void>;
      try {
        outcome = route.handle(ex, ctx);
      } catch (error) {
        outcome = Promise.reject(error);
      }
      if (outcome === undefined) return finish(route, ex, timer);
      outcome.then(
        () => finish(route, ex, timer),
        (error: unknown) => {
          answerError(ex, error);
          finish(route, ex, timer);
        },
      );
    });
  }

  const app = uWS.App();
  const patterns = new Map<string, Set<string>>();
  for (const route of routes) {
    mount(app, route);
    patterns.set(route.pattern, (patterns.get(route.pattern) ?? new Set()).add(route.method.toUpperCase()));
  }
  for (const [pattern, methods] of patterns) {
    const allow = [...methods].join(', ');
    app.any(pattern, (res, req) => {
      const ex = new Exchange(res, req, 0);
      ex.fail(new HttpError(405, `${ex.method} is not allowed on ${pattern}; use ${allow}`, { headers: { allow }, extra: { allow } }));
      metrics.observe(pattern, '-', 405, 0);
    });
  }
  app.any('/*', (res, req) => {
    const ex = new Exchange(res, req, 0);
    ex.fail(new HttpError(404, `no route for ${ex.method} ${ex.url}`, { extra: { routes: routes.map((r) => r.summary) } }));
    metrics.observe('/*', '-', 404, 0);
  });

  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    app.listen(config.host, config.port, (socket) => {
      if (socket) resolve(socket);
      else reject(new Error(`offloop: could not listen on ${config.host}:${config.port} (in use, or not an address of this host)`));
    });
  });
  const port = uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket);

  /** Answers every request still running 503 now, and cancels what can be cancelled. */
  function abort(): void {
    for (const ex of active) {
      const message = `the server shut down before this request finished; ${workFate(ex)}`;
      const headers = { 'retry-after': '1' };
      ex.fail(new HttpError(503, message, { headers, extra: { cancelled: ex.cancellable }, close: true }));
      ex.stop('shutdown');
    }
  }

  let closing: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    draining = true;
    uWS.us_listen_socket_close(listenSocket);
    if (active.size > 0) {
      await new Promise<void>((resolve) => {
        drained = resolve;
        setTimeout(resolve, config.shutdownTimeout).unref();
      });
    }
    abort();
    // Let the stopped requests answer their 503s before the sockets go.
    await new Promise((resolve) => setImmediate(resolve));
    app.close();
    metrics.close();
    if (!workerPool) await workers.close();
    await Promise.all([cppPool.close(), rustPool.close(), queue?.close(), db.close()]);
  }

  return {
    port,
    url: `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`,
    config,
    strategies,
    libuvThreads,
    database: db.describe(),
    get inFlight() {
      return active.size;
    },
    get bodyBytes() {
      return bodyMemory.used;
    },
    close: () => (closing ??= shutdown()),
    abort,
  };
}
