/**
 * The queue's errors, apart from the producer so that the server can tell them apart without
 * loading bullmq and ioredis, which it imports only when REDIS_URL asks for the queue.
 */
import type { AbortError } from '../errors.js';

/** The queue cannot take work now (Redis away, no worker): the server answers 503 with why. */
export class QueueUnavailableError extends Error {
  override readonly name = 'QueueUnavailableError';
}

/** Too many jobs already wait: the server answers 503 with Retry-After. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
}

/** A worker ran the job and it failed there. */
export class JobFailedError extends Error {
  override readonly name = 'JobFailedError';
}

/** What happened to a job whose request went away. */
export type CancelOutcome = 'removed' | 'cancelled' | 'unknown';

/** The AbortError a job's run() rejects with: `job` says what became of the job. */
export type QueueAbortError = AbortError & { job: CancelOutcome; cancelled: boolean };
