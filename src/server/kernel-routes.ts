import { checkArg, type KernelRoute, kernelRoutes, type ResultEncoding } from '../engines/kernels.js';
import { admit, gateOf, type Route, type ServerContext } from './context.js';
import { type BodyRule, type Exchange, HttpError } from './http.js';
import type { WorkSize } from './loop-budget.js';
import { checkArgs, jsonBody, queryInt } from './request.js';
import type { RunInfo, Strategy, StrategyName } from './strategy.js';

/**
 * The kernels' routes, `/<kernel>/:strategy`, one generic route per row of the kernel table's
 * HTTP part (src/engines/kernels.ts): its arguments, body rule, work size and answer all come
 * from the row.
 */

/** Refuses at once (503) when the strategy's pool could not take the request: before its body is read. */
function checkCapacity(ctx: ServerContext, strategy: StrategyName, ex: Exchange): void {
  if (gateOf(ctx, strategy)?.full) {
    const pool = ctx.strategies.get(strategy)!.pool;
    throw new HttpError(503, `the ${pool} pool (strategy ${strategy}) is at capacity; retry shortly`, {
      headers: { 'retry-after': '1' },
      extra: { strategy, pool },
      close: ex.method === 'POST', // its body is never read
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

/** Where each route's integer arguments are, found once. */
const integerArgs = new Map<KernelRoute, number[]>();

/**
 * How much loop time a call stands for, for the loop strategies: its integer arguments in order
 * (loop-budget's workUnits reads them so); a too-large one is blamed on the first.
 */
function workSize(route: KernelRoute, args: readonly unknown[]): WorkSize {
  let integers = integerArgs.get(route);
  if (integers === undefined) {
    integers = route.args.flatMap((arg, i) => (arg.kind === 'integer' ? [i] : []));
    integerArgs.set(route, integers);
  }
  const values = integers.map((i) => args[i] as number);
  return { kernel: route.kernel, args: values, field: route.args[integers[0]!]!.name };
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
    const message =
      `the ${raw.name} body would be ${bytes} bytes, ` +
      `past the body limit of ${ctx.config.bodyLimit} (--body-limit)`;
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

/** A loop strategy's way through a kernel route: its blocking kernel, and its answer's first bytes. */
interface LoopPath {
  readonly run: (...args: unknown[]) => unknown;
  /** `{"kernel":…,"strategy":…,"result":`: the answer is written by hand, in `JSON.stringify`'s form. */
  readonly answerStart: string;
}

function kernelRoute(spec: KernelRoute): Route {
  const queryOnly = spec.result !== 'bytes' && spec.args.every((arg) => arg.from === 'query');
  /** Each strategy's loop path, or null when its requests go the general (async) way; found once. */
  const loopPaths = new WeakMap<Strategy, LoopPath | null>();
  const loopPathOf = (strategy: Strategy): LoopPath | null => {
    let path = loopPaths.get(strategy);
    if (path === undefined) {
      const run = queryOnly && strategy.blocksLoop ? strategy.sync?.[`${spec.kernel}Sync`] : undefined;
      const names = `"kernel":${JSON.stringify(spec.kernel)},"strategy":${JSON.stringify(strategy.name)}`;
      const answerStart = `{${names},"result":`;
      path = typeof run === 'function' ? { run: run as LoopPath['run'], answerStart } : null;
      loopPaths.set(strategy, path);
    }
    return path;
  };
  /**
   * A loop strategy's request whole, before its handler returns: no promise, no deadline (nothing
   * could fire while it holds the loop), no signal. The answer is the one `answer` would give.
   */
  const answerOnLoop = (ex: Exchange, ctx: ServerContext, strategy: Strategy, path: LoopPath): void => {
    const raw = spec.args.map((arg) => queryInt(ex, arg.name, arg.kind === 'integer' ? arg.default : undefined));
    const args = checkArgs(spec.kernel, raw);
    const value = ctx.loop.run(strategy.name, workSize(spec, args), () => path.run(...args));
    const elapsedMs = Math.round(ctx.loop.budget.lastRunMs * 1000) / 1000;
    const result = JSON.stringify(encode[spec.result as Exclude<ResultEncoding, 'bytes'>](value));
    ex.text(200, 'application/json', `${path.answerStart}${result},"elapsedMs":${elapsedMs}}`);
  };

  const strategyOf = (ex: Exchange, ctx: ServerContext): Strategy => {
    const name = ex.params[0]!;
    const strategy = ctx.strategies.get(name as StrategyName);
    if (!strategy?.kernels.includes(spec.kernel)) {
      const valid = [...ctx.strategies.values()]
        .filter((s) => s.kernels.includes(spec.kernel) && !s.disabled)
        .map((s) => s.name);
      throw new HttpError(404, `there is no strategy "${name}" for ${spec.kernel}; valid: ${valid.join(', ')}`, {
        field: 'strategy',
        extra: { strategies: valid },
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
    handle(ex, ctx) {
      const strategy = strategyOf(ex, ctx);
      const path = loopPathOf(strategy);
      return path ? answerOnLoop(ex, ctx, strategy, path) : answer(ex, ctx, strategy);
    },
  };

  async function answer(ex: Exchange, ctx: ServerContext, strategy: Strategy): Promise<void> {
    const args = checkArgs(spec.kernel, await kernelInput(ex, spec));
    const uncancellable = !strategy.blocksLoop && !strategy.cancellable(spec.kernel);
    if (uncancellable) checkUncancellable(ctx, strategy, workSize(spec, args));
    const started = performance.now();
    const info: RunInfo = {};
    // A kernel that holds the loop cannot hear an abort: it gets no signal (each one costs the loop).
    const work = () => strategy.run(spec.kernel, args, strategy.blocksLoop ? undefined : ex.signal, info);
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
  }
}

/** One route per kernel the table gives an HTTP form, in table order. */
export const kernelHttpRoutes: readonly Route[] = kernelRoutes.map(kernelRoute);
