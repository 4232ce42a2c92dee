import type { WorkerEngine } from '../engines/index.js';
import type { Gate } from './admission.js';
import type { ServerConfig } from './config.js';
import type { ServerDatabase } from './db/database.js';
import type { BodyRule, Exchange } from './http.js';
import type { LoopGuard } from './loop-budget.js';
import type { Metrics } from './metrics.js';
import type { Pressure } from './pressure.js';
import type { PoolName, Strategy, StrategyName } from './strategy.js';

/**
 * What a route is and what its handler may use: the contract between the routes (routes.ts,
 * kernel-routes.ts, seed.ts, static.ts) and the server that mounts them (mount.ts).
 */

/** What every route handler may use. */
export interface ServerContext {
  readonly config: ServerConfig;
  readonly strategies: ReadonlyMap<StrategyName, Strategy>;
  /** The admission gate of each pool off the loop: strategies on one pool share its gate. */
  readonly gates: ReadonlyMap<PoolName, Gate>;
  /** The budget of work that runs on the event loop. */
  readonly loop: LoopGuard;
  readonly workers: WorkerEngine;
  readonly metrics: Metrics;
  /** Load shedding and readiness: whether new work is refused now, and why. */
  readonly pressure: Pressure;
  /** The seed routes' database (DATABASE_URL): SQLite or PostgreSQL. */
  readonly db: ServerDatabase;
}

export interface Route {
  readonly method: 'get' | 'post';
  readonly pattern: string;
  /** How many `:name` parameters the pattern has (uWS hands them out by index). */
  readonly params?: number;
  /**
   * Answered whatever the load and while the server drains: never shed (probes, metrics, the
   * page). Every other route is work: shed past a pressure limit, refused while draining.
   */
  readonly always?: boolean;
  /** Whether the request timeout (504) applies. */
  readonly timed?: boolean;
  /** One line for the docs and the 404 listing. */
  readonly summary: string;
  /**
   * Runs in the request handler, before any await and before a byte of the body is read: throws
   * the HttpError that refuses the request early, or returns how to read its body (POST routes).
   */
  accept?(ex: Exchange, ctx: ServerContext): BodyRule | undefined;
  handle(ex: Exchange, ctx: ServerContext): void | Promise<void>;
}

/** The admission gate of a strategy's pool, if it runs off the loop. */
export function gateOf(ctx: ServerContext, strategy: StrategyName): Gate | undefined {
  const pool = ctx.strategies.get(strategy)?.pool;
  return pool === undefined ? undefined : ctx.gates.get(pool);
}

/** Runs `work` under the admission gate of the strategy's pool, if it has one. */
export function admit<T>(
  ctx: ServerContext,
  strategy: StrategyName,
  signal: AbortSignal,
  work: () => Promise<T>,
): Promise<T> {
  const gate = gateOf(ctx, strategy);
  return gate ? gate.run(signal, work, strategy) : work();
}
