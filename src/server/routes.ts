import type { KernelName, WorkerEngine } from '../index.js';
import type { KernelArgs } from '../engines/types.js';
import { checkArg, type KernelRoute, kernelRoutes, parse, type ResultEncoding } from '../engines/kernels.js';
import type { Gate } from './admission.js';
import type { ServerConfig } from './config.js';
import type { ServerDatabase } from './db/database.js';
import { type BodyRule, type Exchange, HttpError } from './http.js';
import type { LoopGuard, WorkSize } from './loop-budget.js';
import type { Metrics } from './metrics.js';
import { seedRoutes } from './seed.js';
import { staticRoutes } from './static.js';
import type { PoolName, RunInfo, Strategy, StrategyName } from './strategies.js';

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
  /** The seed routes' database (DATABASE_URL): SQLite or PostgreSQL. */
  readonly db: ServerDatabase;
}

export interface Route {
  readonly method: 'get' | 'post';
  readonly pattern: string;
  /** How many `:name` parameters the pattern has (uWS hands them out by index). */
  readonly params?: number;
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

/** An integer from the query string; the library's own checks then apply its bounds. */
export function queryInt(ex: Exchange, name: string, fallback?: number): number {
  const raw = ex.query.get(name);
  if (raw === null || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new HttpError(400, `the "${name}" query parameter is required`, { field: name });
  }
  // Plain or scientific decimal notation (limit=1e7); the library then insists on an integer.
  if (raw.length > 32 || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw)) {
    throw new HttpError(400, `the "${name}" query parameter must be an integer; got ${JSON.stringify(raw.slice(0, 40))}`, { field: name });
  }
  return Number(raw);
}

async function jsonBody(ex: Exchange): Promise<Record<string, unknown>> {
  const text = (await ex.body!).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `the body is not valid JSON: ${(error as Error).message}`, { field: 'body' });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'the body must be a JSON object', { field: 'body' });
  }
  return value as Record<string, unknown>;
}

/** The library's argument checks, answered as 400s that name the field. */
export function checkArgs<K extends KernelName>(kernel: K, raw: unknown[]): KernelArgs[K] {
  try {
    return (parse[kernel] as (...a: unknown[]) => KernelArgs[K])(...raw);
  } catch (error) {
    const argument = (error as { argument?: string }).argument;
    if (argument === undefined) throw error;
    throw new HttpError(400, (error as Error).message, { field: argument });
  }
}

/** The admission gate of a strategy's pool, if it runs off the loop. */
function gateOf(ctx: ServerContext, strategy: StrategyName): Gate | undefined {
  const pool = ctx.strategies.get(strategy)?.pool;
  return pool === undefined ? undefined : ctx.gates.get(pool);
}

/** Runs `work` under the admission gate of the strategy's pool, if it has one. */
export function admit<T>(ctx: ServerContext, strategy: StrategyName, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  const gate = gateOf(ctx, strategy);
  return gate ? gate.run(signal, work, strategy) : work();
}

/** Refuses at once (503) when the strategy's pool could not take the request: before its body is read. */
function checkCapacity(ctx: ServerContext, strategy: StrategyName, ex: Exchange): void {
  if (gateOf(ctx, strategy)?.full) {
    const pool = ctx.strategies.get(strategy)!.pool;
    throw new HttpError(503, `the ${pool} pool (strategy ${strategy}) is at capacity; retry shortly`, {
      headers: { 'retry-after': '1' }, extra: { strategy, pool }, close: ex.method === 'POST', // its body is never read
    });
  }
}

/**
 * Work that cannot be stopped must fit in the request timeout: past it, it would hold its thread
 * (and a process that exits, which waits for it) after its 504. Checked from the arguments.
 */
function checkUncancellable(ctx: ServerContext, strategy: Strategy, size: WorkSize): void {
  const estimatedMs = ctx.loop.estimate(strategy.name, size);
  if (estimatedMs > ctx.config.timeout) {
    throw new HttpError(
      422,
      `${strategy.name} cannot stop this work once it runs, and it would take about ${Math.round(estimatedMs)} ms, ` +
        `past the request timeout of ${ctx.config.timeout} ms; lower "${size.field}" or use a cancellable strategy`,
      { field: size.field, extra: { estimatedMs: Math.round(estimatedMs), timeoutMs: ctx.config.timeout } },
    );
  }
}

/** A JSON body for a kernel's arguments is small: a password and a salt. */
export const jsonBodyLimit = 64 * 1024;

/**
 * The route's query arguments, each checked by the library's own rules (a 400 naming it): with a
 * raw body, before it is read — its length and the loop's estimate come from them.
 */
function queryArgs(ex: Exchange, route: KernelRoute): Map<string, number> {
  const before: unknown[] = [];
  const values = new Map<string, number>();
  for (const arg of route.args) {
    if (arg.from === 'query' && arg.kind === 'integer') {
      const value = queryInt(ex, arg.name, arg.default);
      try {
        checkArg(arg, value, before);
      } catch (error) {
        throw new HttpError(400, (error as Error).message, { field: arg.name });
      }
      values.set(arg.name, value);
    }
    before.push(values.get(arg.name));
  }
  return values;
}

/** The kernel's raw arguments, from the query string, the JSON body or the raw body, as its table entry says. */
async function kernelInput(ex: Exchange, route: KernelRoute): Promise<unknown[]> {
  const json = route.args.some((arg) => arg.from === 'json') ? await jsonBody(ex) : {};
  const values: unknown[] = [];
  for (const arg of route.args) {
    const fallback = arg.kind === 'integer' ? arg.default : undefined;
    if (arg.from === 'query') values.push(queryInt(ex, arg.name, fallback));
    else if (arg.from === 'json') values.push(json[arg.name] ?? fallback);
    else values.push(await ex.body!);
  }
  return values;
}

/**
 * How much loop time a call stands for, for the loop strategies: its integer arguments in order
 * (loop-budget's workUnits reads them so); a too-large one is blamed on the first.
 */
function workSize(route: KernelRoute, args: readonly unknown[]): WorkSize {
  const integers = route.args.flatMap((arg, i) => (arg.kind === 'integer' ? [{ name: arg.name, value: args[i] }] : []));
  return { kernel: route.kernel, args: integers.map((a) => a.value as number), field: integers[0]!.name };
}

/**
 * The body a kernel's route reads, decided from the query alone: JSON arguments in a small JSON
 * body; a raw body of exactly the length the table states (413 past the body limit, from the query).
 */
function bodyRule(ex: Exchange, ctx: ServerContext, route: KernelRoute, strategy: Strategy): BodyRule | undefined {
  if (route.args.some((arg) => arg.from === 'json')) {
    return { type: 'application/json', limit: Math.min(jsonBodyLimit, ctx.config.bodyLimit) };
  }
  const raw = route.args.find((arg) => arg.from === 'body');
  if (raw === undefined) return undefined;
  const query = queryArgs(ex, route);
  if (strategy.blocksLoop) {
    const args = route.args.map((arg) => query.get(arg.name));
    const estimate = ctx.loop.estimate(strategy.name, workSize(route, args));
    ctx.loop.budget.admit(estimate, workSize(route, args).field).done(0); // checked now; charged when it runs
  }
  const bytes = route.bodyLength!(Object.fromEntries(query));
  if (bytes > ctx.config.bodyLimit) {
    const field = [...query.keys()][0]!;
    const message = `the ${raw.name} body would be ${bytes} bytes, past the body limit of ${ctx.config.bodyLimit} (--body-limit)`;
    throw new HttpError(413, message, { field, close: true });
  }
  return { type: 'application/octet-stream', limit: bytes, exact: true, field: raw.name };
}

/** The JSON `result` field of each encoding; `bytes` answers the raw bytes instead. */
const encode: Record<Exclude<ResultEncoding, 'bytes'>, (value: unknown) => unknown> = {
  number: (value) => value,
  hex: (value) => (value as Buffer).toString('hex'),
  null: () => null,
};

function kernelRoute(spec: KernelRoute): Route {
  const strategyOf = (ex: Exchange, ctx: ServerContext): Strategy => {
    const name = ex.params[0]!;
    const strategy = ctx.strategies.get(name as StrategyName);
    if (!strategy?.kernels.includes(spec.kernel)) {
      const valid = [...ctx.strategies.values()]
        .filter((s) => s.kernels.includes(spec.kernel) && !s.disabled)
        .map((s) => s.name);
      throw new HttpError(404, `there is no strategy "${name}" for ${spec.kernel}; valid: ${valid.join(', ')}`, {
        field: 'strategy', extra: { strategies: valid },
      });
    }
    if (strategy.disabled) {
      const extra = { strategy: strategy.name, reason: strategy.disabled };
      throw new HttpError(503, `strategy ${strategy.name} is off: ${strategy.disabled}`, { extra });
    }
    return strategy;
  };
  return {
    method: spec.method,
    pattern: `/${spec.kernel}/:strategy`,
    params: 1,
    timed: true,
    summary: spec.summary,
    accept(ex, ctx) {
      const strategy = strategyOf(ex, ctx);
      ex.strategy = strategy.name;
      ex.cancellable = strategy.cancellable(spec.kernel);
      checkCapacity(ctx, strategy.name, ex);
      return bodyRule(ex, ctx, spec, strategy);
    },
    async handle(ex, ctx) {
      const strategy = strategyOf(ex, ctx);
      const args = checkArgs(spec.kernel, await kernelInput(ex, spec));
      const uncancellable = !strategy.blocksLoop && !strategy.cancellable(spec.kernel);
      if (uncancellable) checkUncancellable(ctx, strategy, workSize(spec, args));
      const started = performance.now();
      const info: RunInfo = {};
      const work = () => strategy.run(spec.kernel, args, ex.signal, info);
      const value = strategy.blocksLoop
        ? await ctx.loop.run(strategy.name, workSize(spec, args), work)
        : await admit(ctx, strategy.name, ex.signal, work);
      const elapsedMs = Math.round((performance.now() - started) * 1000) / 1000;
      if (spec.result === 'bytes') {
        const headers: Record<string, string> = { 'x-elapsed-ms': String(elapsedMs), 'x-strategy': strategy.name };
        if (info.worker) headers['x-worker'] = info.worker;
        await ex.bytes(200, 'application/octet-stream', value as Buffer, headers);
      } else {
        const result = encode[spec.result](value);
        ex.json(200, { kernel: spec.kernel, strategy: strategy.name, result, elapsedMs, ...info });
      }
    },
  };
}

/** The routes, in one table: the server registers them, the docs and the 404 list them. */
export const routes: readonly Route[] = [
  {
    method: 'get', pattern: '/ping', summary: 'GET /ping — the probe: answers at once when the loop is free',
    handle: (ex) => void ex.json(200, { pong: true }),
  },
  {
    method: 'get', pattern: '/health', summary: 'GET /health — liveness',
    handle: (ex, ctx) => void ex.json(200, { status: 'ok', pid: process.pid, database: ctx.db.describe() }),
  },
  {
    method: 'get', pattern: '/metrics', summary: 'GET /metrics — Prometheus text: loop delay and utilisation, requests, in-flight, queues, pools, RSS',
    async handle(ex, ctx) {
      const text = await ctx.metrics.registry.metrics();
      ex.text(200, ctx.metrics.registry.contentType, text);
    },
  },
  {
    method: 'get', pattern: '/strategies',
    summary: 'GET /strategies — the strategy table: [{name, where, blocksLoop, pool, kernels, enabled, reason?}]',
    handle: (ex, ctx) =>
      void ex.json(200, [...ctx.strategies.values()].map(({ name, where, blocksLoop, pool, kernels, disabled }) => ({
        name, where, blocksLoop, pool, kernels, enabled: !disabled, ...(disabled ? { reason: disabled } : {}),
      }))),
  },
  {
    method: 'get', pattern: '/kernels',
    summary: 'GET /kernels — the kernel table: [{kernel, method, args, result, burst, summary}]',
    handle: (ex) => void ex.json(200, kernelRoutes),
  },
  ...seedRoutes,
  ...kernelRoutes.map(kernelRoute),
  ...staticRoutes,
];
