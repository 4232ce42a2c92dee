/**
 * `offloop worker` (also `npm run worker`): takes kernel jobs from the queue at REDIS_URL and
 * runs them on this process's own pool. Start any number, on any machine that reaches Redis.
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { startQueueWorker, type WorkerEngineName, workerEngines } from './worker.js';

const help = `Usage: offloop worker [options]     (or: npm run worker -- [options])

Takes kernel jobs from the queue in Redis and runs them on this process's own pool. Run any
number of workers, here or on other machines, against the same Redis as the server.

  --redis-url <url>     REDIS_URL           (required)          the Redis the server uses
  --engine <name>       OFFLOOP_ENGINE      cpp                 ${workerEngines.join(' | ')}: the kernels' engine
  --concurrency <n>     OFFLOOP_CONCURRENCY ${String(availableParallelism()).padEnd(19)} jobs at once (= pool threads)
  --help                                                        this text

SIGTERM or Ctrl-C: stops taking jobs and finishes the running ones; a second one exits at once
and leaves them to another worker (BullMQ's stalled-job recovery).`;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

function options(argv: readonly string[], env: NodeJS.ProcessEnv) {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'redis-url': { type: 'string' },
      engine: { type: 'string' },
      concurrency: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return undefined;
  const redisUrl = values['redis-url'] ?? env.REDIS_URL ?? '';
  if (!/^rediss?:\/\//.test(redisUrl))
    throw new UsageError(`--redis-url (or REDIS_URL) must be a redis:// URL; got "${redisUrl}"`);
  const engine = values.engine ?? env.OFFLOOP_ENGINE ?? 'cpp';
  if (!(workerEngines as readonly string[]).includes(engine))
    throw new UsageError(`--engine must be one of ${workerEngines.join(', ')}; got "${engine}"`);
  const rawConcurrency = values.concurrency ?? env.OFFLOOP_CONCURRENCY ?? String(availableParallelism());
  const concurrency = /^\d+$/.test(rawConcurrency) ? Number(rawConcurrency) : NaN;
  if (!(concurrency >= 1 && concurrency <= 256))
    throw new UsageError(`--concurrency must be an integer from 1 to 256; got "${rawConcurrency}"`);
  return { redisUrl, engine: engine as WorkerEngineName, concurrency };
}

/** Runs the worker until a signal ends the process; it never returns. */
export async function runWorker(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<never> {
  let settings: ReturnType<typeof options>;
  try {
    settings = options(argv, env);
  } catch (error) {
    const known = error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    console.error(
      `offloop worker: ${known ? (error as Error).message : String(error)}\nRun with --help for the options.`,
    );
    process.exit(2);
  }
  if (!settings) {
    console.log(help);
    process.exit(0);
  }
  const log = (event: Record<string, unknown>) =>
    console.log(JSON.stringify({ time: new Date().toISOString(), ...event }));
  const worker = await startQueueWorker({ ...settings, log });
  let stops = 0;
  const stop = (signal: NodeJS.Signals) => {
    stops++;
    const force = stops > 1;
    log({ event: 'stopping', worker: worker.id, signal, running: force ? 'handed back' : 'finishing' });
    worker.close(force).then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(`offloop worker: shutdown failed:`, error);
        process.exit(1);
      },
    );
    if (force) setTimeout(() => process.exit(1), 1000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return new Promise<never>(() => {});
}
