import type { KernelName, WorkerEngine } from '../index.js';
import type { KernelArgs, KernelResults } from '../engines/types.js';
import { parse } from '../engines/kernels.js';
import type { Gate } from './admission.js';
import type { ServerConfig } from './config.js';
import type { ServerDatabase } from './db/database.js';
import { type Exchange, HttpError } from './http.js';
import type { Metrics } from './metrics.js';
import { seedRoutes } from './seed.js';
import { staticRoutes } from './static.js';
import type { RunInfo, Strategy, StrategyName } from './strategies.js';

/** What every route handler may use. */
export interface ServerContext {
  readonly config: ServerConfig;
  readonly strategies: ReadonlyMap<StrategyName, Strategy>;
  /** The admission gate of each strategy that runs off the loop. */
  readonly gates: ReadonlyMap<StrategyName, Gate>;
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

/** Runs `work` under the strategy's admission gate, if it has one. */
export function admit<T>(ctx: ServerContext, strategy: StrategyName, signal: AbortSignal, work: () => Promise<T>): Promise<T> {
  const gate = ctx.gates.get(strategy);
  return gate ? gate.run(signal, work) : work();
}

interface KernelRoute<K extends KernelName> {
  kernel: K;
  method: 'get' | 'post';
  summary: string;
  /** The kernel's raw arguments, from the query string and body. */
  input(ex: Exchange): unknown[] | Promise<unknown[]>;
  /** The JSON `result` field; blur answers raw bytes instead. */
  result?(value: KernelResults[K]): unknown;
}

const kernelRoutes = [
  {
    kernel: 'primes', method: 'get',
    summary: 'GET /primes/:strategy?limit=10000000 — count the primes ≤ limit',
    input: (ex) => [queryInt(ex, 'limit', 10_000_000)],
    result: (count) => count,
  } satisfies KernelRoute<'primes'>,
  {
    kernel: 'pbkdf2', method: 'post',
    summary: 'POST /pbkdf2/:strategy {"password","salt","iterations"=100000,"keylen"=32} — derive a key (hex)',
    input: async (ex) => {
      const body = await jsonBody(ex);
      return [body.password, body.salt, body.iterations ?? 100_000, body.keylen ?? 32];
    },
    result: (key) => key.toString('hex'),
  } satisfies KernelRoute<'pbkdf2'>,
  {
    kernel: 'blur', method: 'post',
    summary: 'POST /blur/:strategy?width=&height=&radius=8 (body: raw RGBA) — blurred RGBA bytes',
    input: async (ex) => [await ex.body!, queryInt(ex, 'width'), queryInt(ex, 'height'), queryInt(ex, 'radius', 8)],
  } satisfies KernelRoute<'blur'>,
  {
    kernel: 'sleep', method: 'get',
    summary: 'GET /sleep/:strategy?ms=1000 — block a thread for ms (a stand-in for blocking I/O)',
    input: (ex) => [queryInt(ex, 'ms', 1000)],
    result: () => null,
  } satisfies KernelRoute<'sleep'>,
] as const;

function kernelRoute<K extends KernelName>(spec: KernelRoute<K>): Route {
  return {
    method: spec.method,
    pattern: `/${spec.kernel}/:strategy`,
    params: 1,
    timed: true,
    summary: spec.summary,
    async handle(ex, ctx) {
      const name = ex.params[0]!;
      const strategy = ctx.strategies.get(name as StrategyName);
      if (!strategy?.kernels.includes(spec.kernel)) {
        const valid = [...ctx.strategies.values()]
          .filter((s) => s.kernels.includes(spec.kernel) && !s.disabled)
          .map((s) => s.name);
        throw new HttpError(404, `there is no strategy "${name}" for ${spec.kernel}; valid: ${valid.join(', ')}`, { field: 'strategy', extra: { strategies: valid } });
      }
      ex.strategy = strategy.name;
      if (strategy.disabled) {
        const extra = { strategy: strategy.name, reason: strategy.disabled };
        throw new HttpError(503, `strategy ${strategy.name} is off: ${strategy.disabled}`, { extra });
      }
      const args = checkArgs(spec.kernel, await spec.input(ex));
      const started = performance.now();
      const info: RunInfo = {};
      const value = await admit(ctx, strategy.name, ex.signal, () => strategy.run(spec.kernel, args, ex.signal, info));
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
