/**
 * `offloop worker`'s engine room: a BullMQ worker that takes kernel jobs and runs them on this
 * process's own pool, with an AbortSignal the server can fire through a cancel message.
 */
import { hostname } from 'node:os';
import { type Job, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type AsyncKernels, cppPool, createWorkers, rustPool } from '../engines/index.js';
import { settleWithin } from '../settle-within.js';
import { decodeArgs, type JobData, type JobResult, keys, queueName, timing, workerId } from './protocol.js';

export const workerEngines = ['cpp', 'rust', 'js'] as const;
export type WorkerEngineName = (typeof workerEngines)[number];

export interface QueueWorkerOptions {
  redisUrl: string;
  engine: WorkerEngineName;
  /** Jobs run at once; also the pool's thread count. */
  concurrency: number;
  /** One event per line (JSON): ready, start, done, aborted, failed, error. */
  log?: (event: Record<string, unknown>) => void;
}

export interface QueueWorker {
  /** `hostname:pid`. */
  readonly id: string;
  /**
   * Stops taking jobs. Graceful: the running ones finish first. `force`: they are left to
   * BullMQ's stalled-job recovery, which hands them to another worker once their lock expires.
   */
  close(force?: boolean): Promise<void>;
}

type Pool = AsyncKernels & { close(): Promise<void> };

/** SET output = bytes with a TTL, if the input hash still exists; 1 when stored. */
const storeIfWanted = `if redis.call('exists', KEYS[1]) == 1 then
  redis.call('set', KEYS[2], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0`;
type Call = (...args: unknown[]) => Promise<unknown>;

function openPool(engine: WorkerEngineName, threads: number): Pool {
  if (engine === 'js') return createWorkers({ threads });
  const pool = engine === 'cpp' ? cppPool : rustPool;
  pool.configure({ threads });
  return pool;
}

export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const id = workerId(hostname(), process.pid);
  const log = options.log ?? (() => {});
  const pool = openPool(options.engine, options.concurrency);
  await pool.noop(); // threads up before the first job
  // BullMQ's workers block on Redis: they need commands to wait out a reconnect, not fail.
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const subscriber = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  let lastError = '';
  const onError = (error: Error) => {
    // Redis away: ioredis reconnects on its own; say so once per distinct error, not per retry.
    if (error.message === lastError) return;
    lastError = error.message;
    log({ event: 'error', worker: id, message: error.message });
  };
  redis.on('error', onError);
  subscriber.on('error', onError);
  redis.on('ready', () => (lastError = ''));

  async function runJob(
    job: Job<JobData, JobResult>,
    _token: string | undefined,
    signal?: AbortSignal,
  ): Promise<JobResult> {
    const { kernel, ttlMs } = job.data;
    const jobId = job.id!;
    const args = decodeArgs(await redis.hgetallBuffer(keys.input(jobId)));
    // The server deletes the input when it stops waiting: nobody would read the answer.
    if (!args) throw new UnrecoverableError('abandoned: the request is gone');
    const started = performance.now();
    const ms = () => Math.round((performance.now() - started) * 1000) / 1000;
    log({ event: 'start', worker: id, job: jobId, kernel, attempt: job.attemptsStarted });
    let value: unknown;
    try {
      value = await (pool[kernel] as Call)(...args, { signal });
    } catch (error) {
      const aborted = (error as Error).name === 'AbortError';
      log({ event: aborted ? 'aborted' : 'failed', worker: id, job: jobId, kernel, ms: ms() });
      throw aborted ? new UnrecoverableError('AbortError: cancelled by the server') : error;
    }
    log({ event: 'done', worker: id, job: jobId, kernel, ms: ms() });
    if (value instanceof Uint8Array) {
      const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
      // Only while the request still waits (its input is there), in one step: a result stored
      // after the server gave up would linger until its TTL.
      const stored = await redis.eval(storeIfWanted, 2, keys.input(jobId), keys.output(jobId), bytes, ttlMs);
      if (stored !== 1) throw new UnrecoverableError('abandoned: the request is gone');
      return { worker: id, binary: true };
    }
    return { worker: id, value: value ?? null };
  }

  const worker = new Worker<JobData, JobResult>(queueName, runJob, {
    connection: redis,
    concurrency: options.concurrency,
    lockDuration: timing.lockMs,
    stalledInterval: timing.stalledCheckMs,
    maxStalledCount: timing.maxStalledCount,
    name: id,
  });
  worker.on('error', onError);
  // A job whose lock could not be renewed is no longer ours (Redis lost it, or it went to another
  // worker as stalled): stop its kernel rather than finish work nobody will read.
  worker.on('lockRenewalFailed', (jobIds) => {
    for (const jobId of jobIds) {
      if (worker.cancelJob(jobId, 'lost its lock')) log({ event: 'lock-lost', worker: id, job: jobId });
    }
  });

  subscriber.on('message', (_channel: string, jobId: string) => {
    if (worker.cancelJob(jobId, 'cancelled by the server')) log({ event: 'cancel', worker: id, job: jobId });
  });
  await subscriber.subscribe(keys.cancel);
  await worker.waitUntilReady();
  log({ event: 'ready', worker: id, engine: options.engine, concurrency: options.concurrency, queue: queueName });

  let closing: Promise<void> | undefined;
  return {
    id,
    close(force = false) {
      closing ??= (async () => {
        // A graceful close finishes the running jobs, which needs Redis; with Redis gone (before or
        // during the close) it would wait forever, and a job whose lock cannot be renewed belongs
        // to another worker by now anyway: force it.
        const lost = () => redis.status !== 'ready';
        if (!force && !lost()) {
          const gone = new Promise<void>((resolve) => redis.once('close', () => resolve()));
          await Promise.race([worker.close(false), gone]);
        }
        if (force || lost()) {
          await settleWithin(1000, [worker.close(true)]);
          await settleWithin(1000, [worker.disconnect()]);
        }
        subscriber.disconnect();
        redis.disconnect();
        await pool.close();
      })();
      return closing;
    },
  };
}
