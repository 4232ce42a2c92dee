import { kernelRoutes } from '../engines/kernels.js';
import type { Route } from './context.js';
import { kernelHttpRoutes } from './kernel-routes.js';
import { seedRoutes } from './seed.js';
import { staticRoutes } from './static.js';

export type { Route, ServerContext } from './context.js';

/** The routes, in one table: the server registers them, the docs and the 404 list them. */
export const routes: readonly Route[] = [
  {
    method: 'get',
    pattern: '/ping',
    summary: 'GET /ping — the probe: answers at once when the loop is free',
    handle: (ex) => void ex.json(200, { pong: true }),
  },
  {
    method: 'get',
    pattern: '/health',
    summary: 'GET /health — liveness',
    handle: (ex, ctx) => void ex.json(200, { status: 'ok', pid: process.pid, database: ctx.db.describe() }),
  },
  {
    method: 'get',
    pattern: '/metrics',
    summary: 'GET /metrics — Prometheus text: loop delay and utilisation, requests, in-flight, queues, pools, RSS',
    async handle(ex, ctx) {
      const text = await ctx.metrics.registry.metrics();
      ex.text(200, ctx.metrics.registry.contentType, text);
    },
  },
  {
    method: 'get',
    pattern: '/strategies',
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
    summary: 'GET /kernels — the kernel table: [{kernel, method, args, result, burst, summary}]',
    handle: (ex) => void ex.json(200, kernelRoutes),
  },
  ...seedRoutes,
  ...kernelHttpRoutes,
  ...staticRoutes,
];
