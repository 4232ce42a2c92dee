import { settleWithin } from '../settle-within.js';
import type { ServerConfig } from './config.js';
import { type Logger, processLogger } from './log.js';
import { mountRoutes } from './mount.js';
import { type ServerOptions as ResourceOptions, startResources } from './resources.js';
import { routes } from './routes.js';
import type { Strategy, StrategyName } from './strategy.js';
import * as uWS from './uws.js';

export type { Logger } from './log.js';

export interface ServerOptions extends ResourceOptions {
  /**
   * Where its log lines go (a pino logger, e.g. your application's): start and shutdown events
   * and one access line per request at `info`. Default: JSON lines on stdout at `logLevel`.
   */
  logger?: Logger;
}

/** uWS's ListenOptions (LIBUS_LISTEN_DEFAULT shares the port with SO_REUSEPORT). */
const listenShared = 0;
const listenExclusive = 1;
/** uWS takes (host, port, options, cb) too, though its index.d.ts declares only (port, options, cb). */
type ListenWithOptions = (
  host: string,
  port: number,
  options: number,
  cb: (socket: uWS.us_listen_socket | false) => void,
) => void;
const listenWith = (app: uWS.TemplatedApp) => app.listen.bind(app) as unknown as ListenWithOptions;

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

/**
 * Starts offloop's HTTP server: its resources first (pools, metrics, database, queue producer),
 * then its routes on uWS. Options not given take the documented defaults (not the environment).
 */
export async function createServer(options: ServerOptions = {}): Promise<OffloopServer> {
  let logger: Logger | undefined; // made once the configuration is resolved, before any task runs
  const resources = await startResources(options, (error) =>
    logger?.warn({ event: 'worker-replaced', err: error }, 'a worker thread died under its task and was replaced'),
  );
  const { config, db } = resources;
  const log = options.logger ?? processLogger(config.logLevel);
  logger = log;
  const app = uWS.App();
  const inFlight = mountRoutes(app, routes, resources, resources.bodyMemory, log);
  const listenSocket = await new Promise<uWS.us_listen_socket>((resolve, reject) => {
    // One process owns its port: a second `npm start` on it fails here instead of silently
    // sharing it (uWS listens with SO_REUSEPORT by default). --processes N shares it on purpose.
    const options = config.processes > 1 ? listenShared : listenExclusive;
    listenWith(app)(config.host, config.port, options, (socket) => {
      if (socket) resolve(socket);
      else {
        const where = `${config.host}:${config.port}`;
        reject(new Error(`offloop: could not listen on ${where} (in use, or not an address of this host)`));
      }
    });
  });
  const port = uWS.us_socket_local_port(listenSocket as unknown as uWS.us_socket);
  const local = config.host === '0.0.0.0' || config.host === '::';
  const url = `http://${local ? 'localhost' : config.host}:${port}`;
  log.info({ event: 'start', url, config: summary(config, resources.libuvThreads, db.describe()) }, 'listening');

  async function shutdown(): Promise<void> {
    const started = performance.now();
    resources.pressure.drain(); // /ready answers 503 from now on
    uWS.us_listen_socket_close(listenSocket);
    log.info({ event: 'draining', inFlight: inFlight.size, timeoutMs: config.shutdownTimeout }, 'draining');
    await inFlight.drain(config.shutdownTimeout);
    const stopped = inFlight.size;
    inFlight.abort();
    // Let the stopped requests answer their 503s before the sockets go.
    await new Promise((resolve) => setImmediate(resolve));
    app.close();
    // Closing waits for work that cannot be stopped (a SQLite statement on a worker) and for
    // backends that may be gone (Redis): it gets what is left of the shutdown timeout, and a
    // little more, never forever.
    const left = Math.max(100, config.shutdownTimeout - (performance.now() - started));
    await settleWithin(left, [resources.close()]);
    const ms = Math.round(performance.now() - started);
    log.info({ event: 'shutdown', ms, stopped }, 'shut down');
    log.flush();
  }

  let closing: Promise<void> | undefined;
  return {
    port,
    url,
    config,
    strategies: resources.strategies,
    libuvThreads: resources.libuvThreads,
    database: db.describe(),
    get inFlight() {
      return inFlight.size;
    },
    get bodyBytes() {
      return resources.bodyMemory.used;
    },
    close: () => (closing ??= shutdown()),
    abort: () => inFlight.abort(),
  };
}

/** What the start event says of the configuration: sizes and limits, never a URL's password. */
function summary(config: ServerConfig, libuvThreads: number, database: { kind: string; name: string }) {
  const { workers, poolThreads, poolPolicy, poolNice, maxInFlight, maxQueue, timeout, shutdownTimeout } = config;
  return {
    libuvThreads,
    workers,
    poolThreads,
    poolPolicy,
    poolNice,
    maxInFlight,
    maxQueue,
    timeout,
    shutdownTimeout,
    bodyLimit: config.bodyLimit,
    database,
    queue: config.redisUrl === '' ? 'off' : 'on',
    logLevel: config.logLevel,
  };
}
