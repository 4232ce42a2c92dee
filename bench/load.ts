import autocannon from 'autocannon';
import type { LoadFigures } from './results.js';

export interface LoadOptions {
  url: string;
  method?: 'GET' | 'POST';
  body?: string;
  connections: number;
  durationS: number;
  pipelining?: number;
}

/**
 * Drives one URL with autocannon (programmatic API, in this process) at a fixed number of
 * connections, each with one request out at a time unless `pipelining` says otherwise.
 */
export async function drive(options: LoadOptions): Promise<LoadFigures> {
  const result = await autocannon({
    url: options.url,
    method: options.method ?? 'GET',
    ...(options.body === undefined ? {} : { body: options.body, headers: { 'content-type': 'application/json' } }),
    connections: options.connections,
    pipelining: options.pipelining ?? 1,
    duration: options.durationS,
    // A blocked server is what we measure, not a failure: never give up on a slow answer.
    timeout: 60,
  });
  const ok = result['2xx'];
  return {
    reqPerSec: ok / result.duration,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    latency: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
  };
}
