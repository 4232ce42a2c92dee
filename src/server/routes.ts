import { kernelRoutes } from '../engines/kernels.js';
import type { Route } from './context.js';
import { kernelHttpRoutes } from './kernel-routes.js';
import { seedRoutes } from './seed.js';
import { staticRoutes } from './static.js';

export type { Route, ServerContext } from './context.js';

/** /ping's answer, made once: the probe is the route most often asked. */
const pong = JSON.stringify({ pong: true });

/** The routes, in one table: the server registers them, the docs and the 404 list them. */
export const routes: readonly Route[] = [
  {
    method: 'get',
    pattern: '/ping',
    always: true,
    summary: 'GET /ping — the probe: answers at once when the loop is free',
    handle: (ex) => void ex.text(200, 'application/json', pong),
  },
  {
    method: 'get',
    pattern: '/health',
    always: true,
    summary: 'GET /health — liveness: 200 while the process runs, draining and overloaded included',
    handle: (ex, ctx) => void ex.json(200, { status: 'ok', pid: process.pid, database: ctx.db.describe() }),
  },
  {
    method: 'get',
    pattern: '/ready',
    always: true,
    summary: 'GET /ready — readiness: 200 when it takes new work; 503 while draining or past a pressure limit',
    handle(ex, ctx) {
      const why = ctx.pressure.notReady();
      if (!why) return void ex.json(200, { ready: true, pid: process.pid });
      const { reason } = why;
      const limit = why.reason === 'overloaded' ? { limit: why.overload.flag, max: why.overload.max } : {};
      ex.json(503, { ready: false, reason, ...limit, pid: process.pid }, { 'retry-after': '1' });
    },
  },
  {
    method: 'get',
    pattern: '/metrics',
    always: true,
    summary:
      'GET /metrics — Prometheus text: requests, loop delay and utilisation, in-flight, queues, pools, shedding, ' +
      'process_* and nodejs_* (all processes, merged)',
    async handle(ex, ctx) {
      const text = await ctx.metrics.text();
      ex.text(200, ctx.metrics.registry.contentType, text);
    },
  },
  {
    method: 'get',
    pattern: '/stats.json',
    always: true,
    summary: "GET /stats.json — the live page's feed: the last second's loop delay and utilisation, in-flight, queued",
    handle: (ex, ctx) => void ex.json(200, ctx.metrics.stats()),
  },
  {
    method: 'get',
    pattern: '/strategies',
    always: true,
    summary: 'GET /strategies — the strategy table: [{name, where, blocksLoop, pool, kernels, enabled, reason?}]',
    handle: (ex, ctx) =>
      void ex.json(
        200,
        [...ctx.strategies.values()].map(({ name, where, blocksLoop, pool, kernels, disabled }) => ({
          name,
          where,
          blocksLoop,
          pool,
          kernels,
          enabled: !disabled,
          ...(disabled ? { reason: disabled } : {}),
        })),
      ),
  },
  {
    method: 'get',
    pattern: '/kernels',
    always: true,
    summary: 'GET /kernels — the kernel table: [{kernel, method, args, result, burst, summary}]',
    handle: (ex) => void ex.json(200, kernelRoutes),
  },
  ...seedRoutes,
  ...kernelHttpRoutes,
  ...staticRoutes,
];
