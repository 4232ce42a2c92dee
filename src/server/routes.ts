import type { KernelName, WorkerEngine } from '../index.js';
import type { KernelArgs, KernelResults } from '../engines/types.js';
import { limits, parse } from '../engines/kernels.js';
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

/** width, height, radius of a blur from the query, checked against the library's bounds. */
function blurSize(ex: Exchange): [width: number, height: number, radius: number] {
  const size = [queryInt(ex, 'width'), queryInt(ex, 'height'), queryInt(ex, 'radius', 8)] as const;
  const names = ['width', 'height', 'radius'] as const;
  names.forEach((name, i) => {
    const { min, max } = limits.blur[name];
    const value = size[i]!;
    if (!Number.isInteger(value) || value < min || value > max) {
      const message = `the "${name}" query parameter must be an integer from ${min} to ${max}; got ${value}`;
      throw new HttpError(400, message, { field: name });
    }
  });
  if (size[0] * size[1] > limits.blur.pixels) {
    const message = `width × height may be at most ${limits.blur.pixels} pixels; got ${size[0] * size[1]}`;
    throw new HttpError(400, message, { field: 'width' });
  }
  return [...size];
}

interface KernelRoute<K extends KernelName> {
  kernel: K;
  method: 'get' | 'post';
  summary: string;
  /** The body this kernel's route reads, decided from the query alone (POST routes). */
  body?(ex: Exchange, ctx: ServerContext): BodyRule;
  /** The kernel's raw arguments, from the query string and body. */
  input(ex: Exchange): unknown[] | Promise<unknown[]>;
  /** How much loop time its checked arguments stand for, for the loop strategies. */
  size(args: KernelArgs[K]): WorkSize;
  /** The JSON `result` field; blur answers raw bytes instead. */
  result?(value: KernelResults[K]): unknown;
}

const kernelRoutes = [
  {
    kernel: 'primes', method: 'get',
    summary: 'GET /primes/:strategy?limit=10000000 — count the primes ≤ limit',
    input: (ex) => [queryInt(ex, 'limit', 10_000_000)],
    size: ([limit]) => ({ kernel: 'primes', args: [limit], field: 'limit' }),
    result: (count) => count,
  } satisfies KernelRoute<'primes'>,
  {
    kernel: 'pbkdf2', method: 'post',
    summary: 'POST /pbkdf2/:strategy {"password","salt","iterations"=100000,"keylen"=32} — derive a key (hex)',
    body: (_ex, ctx) => ({ type: 'application/json', limit: Math.min(jsonBodyLimit, ctx.config.bodyLimit) }),
    input: async (ex) => {
      const body = await jsonBody(ex);
      return [body.password, body.salt, body.iterations ?? 100_000, body.keylen ?? 32];
    },
    size: ([, , iterations, keylen]) => ({ kernel: 'pbkdf2', args: [iterations, keylen], field: 'iterations' }),
    result: (key) => key.toString('hex'),
  } satisfies KernelRoute<'pbkdf2'>,
  {
    kernel: 'blur', method: 'post',
    summary: 'POST /blur/:strategy?width=&height=&radius=8 (body: raw RGBA) — blurred RGBA bytes',
    // Exactly width·height·4 bytes, checked against Content-Length before reading (or as a
    // chunked body arrives); the loop strategies' estimate is checked from the query first.
    body(ex, ctx) {
      const [width, height, radius] = blurSize(ex);
      const strategy = ctx.strategies.get(ex.strategy as StrategyName)!;
      if (strategy.blocksLoop) {
        const estimate = ctx.loop.estimate(strategy.name, { kernel: 'blur', args: [width, height, radius], field: 'width' });
        ctx.loop.budget.admit(estimate, 'width').done(0); // checked now; charged when it runs
      }
      const bytes = width * height * 4;
      if (bytes > ctx.config.bodyLimit) {
        const message = `width × height × 4 = ${bytes} bytes is past the body limit of ${ctx.config.bodyLimit} (--body-limit)`;
        throw new HttpError(413, message, { field: 'width', close: true });
      }
      return { type: 'application/octet-stream', limit: bytes, exact: true, field: 'rgba' };
    },
    input: async (ex) => [await ex.body!, ...blurSize(ex)],
    size: ([, width, height, radius]) => ({ kernel: 'blur', args: [width, height, radius], field: 'width' }),
  } satisfies KernelRoute<'blur'>,
  {
    kernel: 'sleep', method: 'get',
    summary: 'GET /sleep/:strategy?ms=1000 — block a thread for ms (a stand-in for blocking I/O)',
    input: (ex) => [queryInt(ex, 'ms', 1000)],
    size: ([ms]) => ({ kernel: 'sleep', args: [ms], field: 'ms' }),
    result: () => null,
  } satisfies KernelRoute<'sleep'>,
] as const;

function kernelRoute<K extends KernelName>(spec: KernelRoute<K>): Route {
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
      return spec.body?.(ex, ctx);
    },
    async handle(ex, ctx) {
      const strategy = strategyOf(ex, ctx);
      const args = checkArgs(spec.kernel, await spec.input(ex));
      const uncancellable = !strategy.blocksLoop && !strategy.cancellable(spec.kernel);
      if (uncancellable) checkUncancellable(ctx, strategy, spec.size(args));
      const started = performance.now();
      const info: RunInfo = {};
      const work = () => strategy.run(spec.kernel, args, ex.signal, info);
      const value = strategy.blocksLoop
        ? await ctx.loop.run(strategy.name, spec.size(args), work)
        : await admit(ctx, strategy.name, ex.signal, work);
      const elapsedMs = Math.round((performance.now() - started) * 1000) / 1000;
      if (spec.result) {
        ex.json(200, { kernel: spec.kernel, strategy: strategy.name, result: spec.result(value), elapsedMs, ...info });
      } else {
        const headers: Record<string, string> = { 'x-elapsed-ms': String(elapsedMs), 'x-strategy': strategy.name };
        if (info.worker) headers['x-worker'] = info.worker;
        await ex.bytes(200, 'application/octet-stream', value as Buffer, headers);
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
  ...seedRoutes,
  ...kernelRoutes.map((spec) => kernelRoute(spec as KernelRoute<KernelName>)),
  ...staticRoutes,
];
