import { fileURLToPath } from 'node:url';
import * as uWS from './uws.js';
import { cppPool, createWorkers, rustPool, type WorkerEngine } from '../index.js';
import { Gate, OverloadedError } from './admission.js';
import { type ServerConfig, libuvThreadpoolSize, resolveConfig } from './config.js';
import { Exchange, HttpError } from './http.js';
import { createMetrics } from './metrics.js';
import { type Route, type ServerContext, routes } from './routes.js';
import { createStrategies, type Strategy, type StrategyName } from './strategies.js';

export interface OffloopServer {
  /** The port it listens on (the real one when asked for port 0). */
  readonly port: number;
  readonly url: string;
  readonly config: ServerConfig;
  readonly strategies: ReadonlyMap<StrategyName, Strategy>;
  /** libuv's threadpool size as libuv applied it when this process started. */
  readonly libuvThreads: number;
  /** Requests being handled now. */
  readonly inFlight: number;
  /**
   * Graceful shutdown: stops accepting, lets in-flight requests finish for up to
   * `shutdownTimeout` ms (the rest are answered 503 and their work cancelled), closes every
   * connection and the pools. Calling it again returns the same promise.
   */
  close(): Promise<void>;
  /** Stops every in-flight request now: each is answered 503 and its work cancelled. */
  abort(): void;
}

const pongFile = fileURLToPath(new URL('../../../data/pong.txt', import.meta.url));

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
  const strategies = createStrategies(workers);
  const threads: Record<Exclude<Strategy['pool'], 'loop'>, number> = {
    libuv: libuvThreads,
    workers: workers.threads,
    'cpp-pool': config.poolThreads,
    'rust-pool': config.poolThreads,
  };
  const poolSize = (s: Strategy) => (s.pool === 'loop' ? 1 : threads[s.pool]);
  const gates = new Map<StrategyName, Gate>();
  for (const s of strategies.values()) {
    if (!s.blocksLoop) gates.set(s.name, new Gate(config.maxInFlight || poolSize(s), config.maxQueue || 4 * poolSize(s)));
  }
  const metrics = createMetrics({ gates, pools: () => threads });
  const ctx: ServerContext = { config, strategies, gates, workers, metrics, pongFile };

  const active = new Set<Exchange>();
  let draining = false;
  let drained: (() => void) | undefined;

  function finish(route: Route, ex: Exchange, timer: NodeJS.Timeout | undefined): void {
    clearTimeout(timer);
    if (!ex.finished) ex.fail(new HttpError(500, 'the route gave no answer'));
    active.delete(ex);
    metrics.observe(route.pattern, ex.strategy, ex.status ?? 500, (performance.now() - ex.startedAt) / 1000);
    if (draining && active.size === 0) drained?.();
  }

  function answerError(ex: Exchange, error: unknown): void {
    if (ex.finished) return;
    if (error instanceof HttpError) {
      ex.fail(error);
    } else if (ex.stopReason === 'shutdown') {
      ex.fail(new HttpError(503, 'the server shut down before this request finished', { headers: { 'retry-after': '1' } }));
    } else if (ex.stopReason !== undefined) {
      // 'timeout' was answered 504 when the timer fired; 'client': nobody is left to answer.
    } else if (error instanceof OverloadedError) {
      ex.fail(new HttpError(503, `strategy ${ex.strategy} is at capacity; retry shortly`, { headers: { 'retry-after': '1' }, extra: { strategy: ex.strategy } }));
    } else {
      console.error(`offloop: ${ex.method} ${ex.url} failed:`, error);
      ex.fail(new HttpError(500, 'internal error'));
    }
  }

  function mount(app: uWS.TemplatedApp, route: Route): void {
    app[route.method](route.pattern, (res, req) => {
      const ex = new Exchange(res, req, route.params ?? 0, route.method === 'post' ? config.bodyLimit : undefined);
      if (draining) {
        ex.fail(new HttpError(503, 'the server is shutting down', { headers: { 'retry-after': '1' }, close: true }));
        metrics.observe(route.pattern, '-', 503, 0);
        return;
      }
      active.add(ex);
      const timer = route.timed
        ? setTimeout(() => {
            // A body still arriving is the client's delay (408); otherwise it is ours (504).
            ex.fail(
              ex.bodyComplete
                ? new HttpError(504, `the request took longer than ${config.timeout} ms; its work was cancelled`)
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
      const ex = new Exchange(res, req, 0, undefined);
      ex.fail(new HttpError(405, `${ex.method} is not allowed on ${pattern}; use ${allow}`, { headers: { allow }, extra: { allow } }));
      metrics.observe(pattern, '-', 405, 0);
    });
  }
  app.any('/*', (res, req) => {
    const ex = new Exchange(res, req, 0, undefined);
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

  function abort(): void {
    for (const ex of active) ex.stop('shutdown');
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
    await Promise.all([cppPool.close(), rustPool.close()]);
  }

  return {
    port,
    url: `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${port}`,
    config,
    strategies,
    libuvThreads,
    get inFlight() {
      return active.size;
    },
    close: () => (closing ??= shutdown()),
    abort,
  };
}
