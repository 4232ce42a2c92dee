import { QueueFullError, QueueUnavailableError } from '../queue/errors.js';
import { OverloadedError } from './admission.js';
import type { Route, ServerContext } from './context.js';
import { type Deadline, Deadlines } from './deadlines.js';
import { type BodyMemory, Exchange, HttpError } from './http.js';
import { AccessLog, type Logger } from './log.js';
import type { StrategyName } from './strategy.js';
import type * as uWS from './uws.js';

/** What stopping a request did to its work, in words. */
const workFate = (ex: Exchange) =>
  ex.cancellable ? 'its work was cancelled' : 'its work cannot be stopped and runs to its end';

/** The requests a mounted app is handling: how it drains and stops them. */
export interface InFlight {
  readonly size: number;
  /** Refuses new requests from now on (503), and resolves once none is left or after `timeoutMs`. */
  drain(timeoutMs: number): Promise<void>;
  /** Stops every request now: each is answered 503 and its work cancelled. */
  abort(): void;
}

/**
 * Mounts `routes` on a uWS app: each request's life from admission (route, strategy, capacity,
 * body rule, before a byte of the body is read) through its handler and timeout to exactly one
 * answer; then 405 for a known path's other methods and 404 for the rest.
 */
export function mountRoutes(
  app: uWS.TemplatedApp,
  routes: readonly Route[],
  ctx: ServerContext,
  bodyMemory: BodyMemory,
  log: Logger,
): InFlight {
  const { config, metrics } = ctx;
  const active = new Set<Exchange>();
  const deadlines = new Deadlines<Exchange>(config.timeout, onTimeout);
  let draining = false;
  let drained: (() => void) | undefined;
  const access = new AccessLog(log);

  /** Every request ends here exactly once: its metrics and its access-log line. */
  function record(route: string, ex: Exchange): void {
    const seconds = ((ex.answeredAt || performance.now()) - ex.startedAt) / 1000;
    const status = ex.status ?? 500;
    metrics.observe(route, ex.strategy, status, seconds);
    if (!access.enabled) return;
    const micros = Math.round(seconds * 1e6);
    access.write(ex.id, ex.method, route, ex.strategy, status, micros, ex.bytesSent);
  }

  function finish(route: Route, ex: Exchange): void {
    if (!ex.finished) ex.fail(new HttpError(500, 'the route gave no answer'));
    ex.release();
    record(route.pattern, ex);
  }

  /** The end of a request that was at work after its handler returned. */
  function finishAtWork(route: Route, ex: Exchange, deadline: Deadline<Exchange> | undefined): void {
    deadlines.disarm(deadline);
    active.delete(ex);
    finish(route, ex);
    if (draining && active.size === 0) drained?.();
  }

  function answerError(ex: Exchange, error: unknown): void {
    if (ex.finished) return;
    const retry = { 'retry-after': '1' };
    if (error instanceof HttpError) {
      ex.fail(error);
    } else if (ex.stopReason !== undefined) {
      // 'timeout' and 'shutdown' were answered when they happened; 'client': nobody is left to answer.
    } else if (error instanceof QueueUnavailableError) {
      const options = { headers: retry, extra: { strategy: ex.strategy, reason: error.message } };
      ex.fail(new HttpError(503, `strategy ${ex.strategy} is unavailable: ${error.message}`, options));
    } else if (error instanceof QueueFullError) {
      const options = { headers: retry, extra: { strategy: ex.strategy } };
      ex.fail(new HttpError(503, `strategy ${ex.strategy} is at capacity; retry shortly`, options));
    } else if (error instanceof OverloadedError) {
      const pool = ctx.strategies.get(ex.strategy as StrategyName)?.pool;
      const message = `the ${pool} pool (strategy ${ex.strategy}) is at capacity; retry shortly`;
      ex.fail(new HttpError(503, message, { headers: retry, extra: { strategy: ex.strategy, pool } }));
    } else {
      log.error({ err: error, reqId: ex.id, method: ex.method, url: ex.url }, 'request failed');
      ex.fail(new HttpError(500, 'internal error'));
    }
  }

  /** The request timeout: a body still arriving is the client's delay (408); otherwise it is ours (504). */
  function onTimeout(ex: Exchange): void {
    ex.fail(
      ex.bodyComplete
        ? new HttpError(504, `the request took longer than ${config.timeout} ms; ${workFate(ex)}`, {
            extra: { cancelled: ex.cancellable },
          })
        : new HttpError(408, `the request body did not arrive within ${config.timeout} ms`, { close: true }),
    );
    ex.stop('timeout');
  }

  /**
   * Admission, before a byte of the body is read: draining, route, strategy, capacity, type,
   * length. Answers and records a refused request and returns false. Checks that refuse new
   * work belong here, in this order.
   */
  function admit(route: Route, ex: Exchange): boolean {
    try {
      if (draining && !route.always) {
        const headers = { 'retry-after': '1' };
        throw new HttpError(503, 'the server is shutting down', { headers, close: true });
      }
      // Load shedding: past a pressure limit (--max-loop-delay …), new work gets 503 + Retry-After.
      const shed = route.always ? undefined : ctx.pressure.shed();
      if (shed) throw shed;
      const rule = route.accept?.(ex, ctx);
      if (rule) ex.readBody(rule, bodyMemory);
      else if (route.method === 'post') throw new Error(`${route.pattern} reads a body but declares none`);
      return true;
    } catch (error) {
      answerError(ex, error);
      ex.release();
      record(route.pattern, ex);
      return false;
    }
  }

  function mount(route: Route): void {
    const method = route.method.toUpperCase();
    const params = route.params ?? 0;
    app[route.method](route.pattern, (res, req) => {
      const ex = new Exchange(res, req, params, method);
      serve(route, ex);
      ex.handlerReturned();
    });
  }

  /** A request from its admission; what is still at work when it returns is armed and in flight. */
  function serve(route: Route, ex: Exchange): void {
    if (!admit(route, ex)) return;
    let outcome: void | Promise<void>;
    try {
      outcome = route.handle(ex, ctx);
    } catch (error) {
      outcome = Promise.reject(error);
    }
    // A handler that returned has ended its request: nothing (no timer, no shutdown) could
    // have reached it meanwhile, so only one still at work is armed and counted in flight.
    if (outcome === undefined) {
      finish(route, ex);
      return;
    }
    active.add(ex);
    // Armed from its arrival, so arrival order stays deadline order.
    const deadline = route.timed ? deadlines.arm(ex, ex.startedAt) : undefined;
    outcome.then(
      () => finishAtWork(route, ex, deadline),
      (error: unknown) => {
        answerError(ex, error);
        finishAtWork(route, ex, deadline);
      },
    );
  }

  const patterns = new Map<string, Set<string>>();
  for (const route of routes) {
    mount(route);
    patterns.set(route.pattern, (patterns.get(route.pattern) ?? new Set()).add(route.method.toUpperCase()));
  }
  for (const [pattern, methods] of patterns) {
    const allow = [...methods].join(', ');
    app.any(pattern, (res, req) => {
      const ex = new Exchange(res, req, 0);
      const message = `${ex.method} is not allowed on ${pattern}; use ${allow}`;
      ex.fail(new HttpError(405, message, { headers: { allow }, extra: { allow } }));
      record(pattern, ex);
      ex.handlerReturned();
    });
  }
  app.any('/*', (res, req) => {
    const ex = new Exchange(res, req, 0);
    const extra = { routes: routes.map((r) => r.summary) };
    ex.fail(new HttpError(404, `no route for ${ex.method} ${ex.url}`, { extra }));
    record('/*', ex);
    ex.handlerReturned();
  });

  return {
    get size() {
      return active.size;
    },
    async drain(timeoutMs) {
      draining = true;
      if (active.size === 0) return;
      await new Promise<void>((resolve) => {
        drained = resolve;
        setTimeout(resolve, timeoutMs).unref();
      });
    },
    abort() {
      for (const ex of active) {
        const message = `the server shut down before this request finished; ${workFate(ex)}`;
        const headers = { 'retry-after': '1' };
        ex.fail(new HttpError(503, message, { headers, extra: { cancelled: ex.cancellable }, close: true }));
        ex.stop('shutdown');
      }
    },
  };
}
