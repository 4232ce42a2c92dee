/**
 * The seed's three routes over a real database — the note's `get_pong()` is
 * `SELECT pong FROM pongs WHERE id = 1` — and /query, one CPU-heavy statement under the three
 * places it can run.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { js } from '../engines/index.js';
import { integer } from '../engines/validate.js';
import { admit, type Route, type ServerContext } from './context.js';
import { DatabaseError, fromFailure } from './db/errors.js';
import { type Exchange, HttpError } from './http.js';
import { checkArgs, queryInt } from './request.js';
import type { SeedResult, SeedTask } from './seed-worker.js';

const seedWorker = new URL('./seed-worker.js', import.meta.url);

/** ?ms= for the seed routes: the seed's 10 s by default, within sleep's bounds. */
const seedMs = (ex: Exchange) => checkArgs('sleep', [queryInt(ex, 'ms', 10_000)])[0];

/** The largest n for /query: about 2 s of SQLite on this machine, since SQLite cannot be interrupted. */
export const maxQueryN = 10_000_000;
/** An upper estimate of one summed row's cost on the loop, in ms (for the loop budget). */
const queryMsPerRow = 0.001;

/** A database that cannot answer is a 503 the client may retry; the server reconnects by itself. */
function unavailable(ctx: ServerContext, error: unknown): unknown {
  if (!(error instanceof DatabaseError)) return error;
  const database = ctx.db.describe();
  return new HttpError(503, `the database is unavailable: ${error.message}`, {
    headers: { 'retry-after': '1' },
    extra: { database: database.kind, ...(error.code ? { code: error.code } : {}) },
  });
}

function fromDb<T>(ctx: ServerContext, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw unavailable(ctx, error);
  }
}

async function fromDbAsync<T>(ctx: ServerContext, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw unavailable(ctx, error);
  }
}

async function onWorker<T>(
  ctx: ServerContext,
  ex: Exchange,
  task: SeedTask,
  options: { signal?: AbortSignal; onStart?: () => void } = {},
): Promise<T> {
  const outcome = await admit(ctx, 'worker', ex.signal, () => {
    options.onStart?.();
    return ctx.workers.runFile<SeedResult>(seedWorker, task, options.signal ? { signal: options.signal } : {});
  });
  if (!outcome.ok) throw unavailable(ctx, fromFailure(outcome.error));
  return outcome.value as T;
}

/**
 * Where /query's statement runs — the synchronous driver on the loop (PostgreSQL: through the
 * bridge), the same on a worker with its own connection, or PostgreSQL's server process awaited
 * over pg.Pool — and what a timeout does to a statement already running there.
 */
const queryStrategies = {
  blocking: { cancelled: false, cancel: 'the loop was blocked until the statement ended' },
  worker: {
    cancelled: false,
    cancel: 'the statement runs to its end on its worker: better-sqlite3 has no interrupt(), so it cannot be stopped',
  },
  async: { cancelled: true, cancel: 'the statement was cancelled on the server (pg_cancel_backend)' },
} as const;
type QueryStrategy = keyof typeof queryStrategies;

async function runSum(
  ctx: ServerContext,
  ex: Exchange,
  strategy: QueryStrategy,
  n: number,
  onStart: () => void,
): Promise<bigint> {
  if (strategy !== 'worker') onStart();
  switch (strategy) {
    case 'blocking':
      // Held to the loop budget like every loop route; the per-row cost is an upper estimate
      // (SQLite sums ~5 M rows/s here, PostgreSQL through the bridge ~1 M), the real time is charged after.
      return ctx.loop.runFor(n * queryMsPerRow, 'n', () => fromDb(ctx, () => ctx.db.loop.sum(n)));
    case 'worker':
      // No signal once admitted: piscina would terminate the worker, which cannot stop SQLite
      // anyway — the slot stays taken until the statement really ends.
      return onWorker<bigint>(ctx, ex, { op: 'sum', n, target: ctx.db.target, options: ctx.db.options }, { onStart });
    case 'async': {
      const sum = ctx.db.async.sum;
      if (!sum) {
        throw new HttpError(
          503,
          "/query/async runs the statement in PostgreSQL's server process: " +
            'start offloop with DATABASE_URL=postgres://… (this one uses SQLite)',
          {
            field: 'strategy',
            extra: { database: ctx.db.target.kind },
          },
        );
      }
      return fromDbAsync(ctx, () => sum(n, ex.signal));
    }
  }
}

export const seedRoutes: readonly Route[] = [
  {
    method: 'get',
    pattern: '/terrible-ping',
    timed: true,
    summary:
      'GET /terrible-ping?ms=10000 — a blocking sleep, then a synchronous get_pong on the event loop: everyone waits',
    handle(ex, ctx) {
      ex.strategy = 'blocking';
      const ms = seedMs(ex);
      // The query's own wait (a lock, a slow server) is charged with the sleep: it holds the loop too.
      const pong = ctx.loop.run('blocking', { kernel: 'sleep', args: [ms], field: 'ms' }, () => {
        js.sleepSync(ms);
        return fromDb(ctx, () => ctx.db.loop.getPong());
      });
      ex.json(200, { pong });
    },
  },
  {
    method: 'get',
    pattern: '/good-ping',
    timed: true,
    summary:
      'GET /good-ping?ms=10000 — the same blocking calls on a worker thread (its own connection): ' +
      'the loop stays free',
    async handle(ex, ctx) {
      ex.strategy = 'worker';
      const task: SeedTask = { op: 'pong', ms: seedMs(ex), target: ctx.db.target, options: ctx.db.options };
      ex.json(200, { pong: await onWorker<string>(ctx, ex, task, { signal: ex.signal }) });
    },
  },
  {
    method: 'get',
    pattern: '/perfect-ping',
    timed: true,
    summary:
      'GET /perfect-ping?ms=10000 — await a timer, then an awaited get_pong ' +
      '(PostgreSQL: non-blocking I/O; SQLite: its own thread)',
    async handle(ex, ctx) {
      ex.strategy = 'builtin';
      await delay(seedMs(ex), undefined, { signal: ex.signal });
      ex.json(200, { pong: await fromDbAsync(ctx, () => ctx.db.async.getPong(ex.signal)) });
    },
  },
  {
    method: 'get',
    pattern: '/query/:strategy',
    params: 1,
    summary:
      `GET /query/:strategy?n=1000000 — one CPU-heavy SQL statement (1 + … + n, n ≤ ${maxQueryN}) ` +
      'under blocking, worker or async (PostgreSQL)',
    async handle(ex, ctx) {
      const name = ex.params[0]!;
      if (!Object.hasOwn(queryStrategies, name)) {
        const valid = Object.keys(queryStrategies);
        throw new HttpError(404, `there is no strategy "${name}" for /query; valid: ${valid.join(', ')}`, {
          field: 'strategy',
          extra: { strategies: valid },
        });
      }
      const strategy = name as QueryStrategy;
      ex.strategy = strategy;
      let n: number;
      try {
        n = integer('n', queryInt(ex, 'n', 1_000_000), { min: 1, max: maxQueryN });
      } catch (error) {
        if (error instanceof HttpError) throw error;
        throw new HttpError(400, (error as Error).message, { field: 'n' });
      }
      // A statement that cannot be stopped must fit the request timeout, or it would hold its
      // worker (and a shutdown) long after its 504: refused up front, from n.
      const estimatedMs = n * queryMsPerRow;
      if (!queryStrategies[strategy].cancelled && strategy !== 'blocking' && estimatedMs > ctx.config.timeout) {
        const most = Math.floor(ctx.config.timeout / queryMsPerRow);
        throw new HttpError(
          422,
          `n=${n} is estimated at ${Math.round(estimatedMs)} ms on a worker, where it cannot be stopped, ` +
            `past the ${ctx.config.timeout} ms timeout; ask for n ≤ ${most}`,
          {
            field: 'n',
            extra: { maxN: most },
          },
        );
      }
      // Its own timeout, not the server's: only this route knows whether a timeout stops the work.
      let running = false;
      const timer = setTimeout(() => {
        const { cancelled, cancel } = running
          ? queryStrategies[strategy]
          : { cancelled: true, cancel: 'it was still waiting for a worker and will not run' };
        const message = `the query took longer than ${ctx.config.timeout} ms; ${cancel}`;
        ex.fail(new HttpError(504, message, { extra: { cancelled } }));
        ex.stop('timeout');
      }, ctx.config.timeout);
      try {
        const started = performance.now();
        const total = await runSum(ctx, ex, strategy, n, () => {
          running = true;
          // From here a shutdown's 503 says honestly whether the statement stops.
          ex.cancellable = queryStrategies[strategy].cancelled;
        });
        const elapsedMs = Math.round((performance.now() - started) * 1000) / 1000;
        ex.json(200, { query: 'sum', strategy, n, result: total.toString(), elapsedMs });
      } finally {
        clearTimeout(timer);
      }
    },
  },
];
