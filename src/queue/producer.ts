/**
 * The server's side of the queue: a request becomes a job, its answer comes back through
 * BullMQ's completion events (QueueEvents, one XREAD stream per server, not polling).
 */
import { randomUUID } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { abortError } from '../errors.js';
import { settleWithin } from '../settle-within.js';
import { encodeArgs, type JobData, type JobResult, keys, type QueueKernel, queueName, timing } from './protocol.js';

export { defaultMaxWaiting } from './protocol.js';

import {
  type CancelOutcome,
  JobFailedError,
  type QueueAbortError,
  QueueFullError,
  QueueUnavailableError,
} from './errors.js';

export { type CancelOutcome, JobFailedError, type QueueAbortError, QueueFullError, QueueUnavailableError };

export interface JobAnswer<T> {
  value: T;
  /** `hostname:pid` of the worker that ran it. */
  worker: string;
}

export interface ProducerOptions {
  redisUrl: string;
  /** Most jobs that may wait for a worker (all servers together); past it, QueueFullError. */
  maxWaiting: number;
  /** The request timeout: payload keys live a little longer, then Redis drops them itself. */
  timeoutMs: number;
}

interface Pending {
  resolve(result: JobResult): void;
  reject(error: unknown): void;
}

export class QueueProducer {
  readonly #options: ProducerOptions;
  /** Fails fast while Redis is away, instead of holding commands until it returns. */
  readonly #redis: Redis;
  readonly #queue: Queue<JobData, JobResult>;
  #events: QueueEvents | undefined;
  #eventsReady = false;
  #onReady: (() => void)[] = [];
  readonly #pending = new Map<string, Pending>();
  #workers: { at: number; count: Promise<number> } | undefined;
  #closed = false;

  constructor(options: ProducerOptions) {
    this.#options = options;
    this.#redis = new Redis(options.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.#redis.on('error', () => {}); // the state is what matters: #check() reports it per request
    this.#queue = new Queue<JobData, JobResult>(queueName, {
      connection: this.#redis,
      streams: { events: { maxLen: 1000 } },
    });
    this.#queue.on('error', () => {});
    this.#redis.on('ready', () => void this.#listen());
    // Redis gone: the jobs (and their events) may be gone with it — answer now, not at the timeout.
    this.#redis.on('close', () => this.#lost());
  }

  /** Why the queue cannot take a job right now, or undefined when it can. */
  get unavailable(): string | undefined {
    if (this.#closed) return 'the server is closing';
    if (this.#redis.status !== 'ready')
      return `Redis at ${redact(this.#options.redisUrl)} is unreachable (${this.#redis.status})`;
    if (!this.#eventsReady) return 'the queue is connecting to Redis';
    return undefined;
  }

  /** Resolves once the queue can take jobs, or after `ms` (then it keeps connecting). */
  ready(ms: number): Promise<void> {
    if (this.#eventsReady) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.#onReady.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Starts listening for job events from the stream's current end, so no later event is missed. */
  async #listen(): Promise<void> {
    const old = this.#events;
    this.#events = undefined;
    this.#eventsReady = false;
    // Not awaited: closing waits for its blocked XREAD, which a dead connection never ends.
    old?.close().catch(() => {});
    if (this.#closed || this.#redis.status !== 'ready') return;
    try {
      // After a Redis restart the stream starts over: an old last-id would skip every new event.
      const last = await this.#redis.xrevrange(this.#queue.keys.events!, '+', '-', 'COUNT', 1);
      const events = new QueueEvents(queueName, {
        connection: { url: this.#options.redisUrl, maxRetriesPerRequest: null },
        lastEventId: last[0]?.[0] ?? '0-0',
      });
      events.on('error', () => {});
      events.on('completed', ({ jobId, returnvalue }) =>
        this.#settle(jobId, (p) => p.resolve(returnvalue as unknown as JobResult)),
      );
      events.on('failed', ({ jobId, failedReason }) =>
        this.#settle(jobId, (p) => p.reject(new JobFailedError(failedReason))),
      );
      this.#events = events;
      await events.waitUntilReady();
      if (this.#events !== events) return;
      this.#eventsReady = true;
      for (const callback of this.#onReady.splice(0)) callback();
    } catch {
      // Redis went away again: its next 'ready' calls this again.
    }
  }

  #settle(jobId: string, how: (p: Pending) => void): void {
    const pending = this.#pending.get(jobId);
    if (!pending) return;
    this.#pending.delete(jobId);
    how(pending);
  }

  #lost(): void {
    this.#eventsReady = false;
    const error = new QueueUnavailableError(`lost the connection to Redis at ${redact(this.#options.redisUrl)}`);
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  /**
   * Workers connected to the queue, from Redis's client list. A count above 0 is trusted briefly;
   * "none" is not cached, so the first worker to start is seen at once.
   */
  #workerCount(): Promise<number> {
    const now = performance.now();
    if (!this.#workers || now - this.#workers.at > timing.workersCacheMs) {
      const count = this.#queue.getWorkersCount();
      this.#workers = { at: now, count };
      count.then(
        (n) => {
          if (n === 0 && this.#workers?.count === count) this.#workers = undefined;
        },
        () => {
          this.#workers = undefined;
        },
      );
    }
    return this.#workers.count;
  }

  /** Runs `kernel` on some worker; rejects with a QueueAbortError when `signal` fires first. */
  async run(kernel: QueueKernel, args: readonly unknown[], signal?: AbortSignal): Promise<JobAnswer<unknown>> {
    const why = this.unavailable;
    if (why) throw new QueueUnavailableError(why);
    if (signal?.aborted) throw abortError(signal);
    const [workers, waiting] = await Promise.all([this.#workerCount(), this.#queue.getWaitingCount()]).catch(
      unavailable,
    );
    if (workers === 0)
      throw new QueueUnavailableError(
        'no offloop worker is taking jobs: start one with `offloop worker --redis-url …`',
      );
    if (waiting >= this.#options.maxWaiting) throw new QueueFullError(`${waiting} jobs already wait for a worker`);
    if (signal?.aborted) throw abortError(signal);

    const jobId = randomUUID();
    const ttlMs = this.#options.timeoutMs + timing.keyGraceMs;
    // Registered before the job exists: its completion event may beat add()'s reply.
    const answer = new Promise<JobResult>((resolve, reject) => this.#pending.set(jobId, { resolve, reject }));
    answer.catch(() => {});
    try {
      await this.#redis
        .multi()
        .hset(keys.input(jobId), encodeArgs(args))
        .pexpire(keys.input(jobId), ttlMs)
        .exec()
        .catch(unavailable);
      const data: JobData = { kernel, ttlMs };
      await this.#queue
        .add(kernel, data, { jobId, removeOnComplete: true, removeOnFail: true, attempts: 1 })
        .catch(unavailable);
      const result = await untilAborted(answer, signal, () => this.#cancel(jobId));
      const value = result.binary ? await this.#redis.getBuffer(keys.output(jobId)).catch(unavailable) : result.value;
      if (result.binary && value === null) throw new JobFailedError('the result expired before it was read');
      return { value, worker: result.worker };
    } finally {
      this.#pending.delete(jobId);
      // Answered, failed or abandoned: its bytes go now (a failure here leaves them to their TTL).
      if (this.#redis.status === 'ready') this.#redis.del(keys.input(jobId), keys.output(jobId)).catch(() => {});
    }
  }

  /**
   * The request is gone: a waiting job is removed; a running one gets a cancel message, and its
   * worker aborts the kernel. Deleting the input first closes the gap between the two: a worker
   * that takes the job after this finds no input and drops it.
   */
  async #cancel(jobId: string): Promise<CancelOutcome> {
    try {
      await this.#redis.del(keys.input(jobId));
      if ((await this.#queue.remove(jobId)) === 1) return 'removed';
      await this.#redis.publish(keys.cancel, jobId);
      return 'cancelled';
    } catch {
      return 'unknown';
    }
  }

  /** Stops listening and disconnects; requests still waiting get QueueUnavailableError. */
  async close(graceMs = 1000): Promise<void> {
    this.#closed = true;
    const events = this.#events;
    this.#events = undefined;
    // A graceful close waits for Redis to answer (the blocked XREAD, the queue's own commands),
    // which a dead Redis never does: past a short grace the connections are cut instead.
    await settleWithin(graceMs, [events?.close(), this.#queue.close()]);
    await settleWithin(graceMs, [events?.disconnect(), this.#queue.disconnect()]);
    this.#redis.disconnect();
  }
}

/** A Redis command failed: to the caller that is the queue being unavailable. */
function unavailable(error: unknown): never {
  throw new QueueUnavailableError(`Redis: ${(error as Error).message}`);
}

/** `redis://user:secret@host` → `redis://host`: URLs in answers carry no credentials. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return 'REDIS_URL';
  }
}

/** `work`, unless `signal` fires first: then `cancel()` runs and the AbortError says what it did. */
function untilAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  cancel: () => Promise<CancelOutcome>,
): Promise<T> {
  if (!signal) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      void cancel().then((job) =>
        reject(Object.assign(abortError(signal), { job, cancelled: job !== 'unknown' }) as QueueAbortError),
      );
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
