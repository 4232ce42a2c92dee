/**
 * The job protocol shared by the server (producer) and `offloop worker`: one BullMQ queue, the
 * kernel's arguments and a binary result under their own Redis keys, a pub/sub channel for
 * cancels. BullMQ serialises job data and return values as JSON, so Buffers never go there:
 * a blur's RGBA or a pbkdf2 key travels as raw bytes (HSET/GETBUFFER), not as base64 or an
 * array of numbers.
 */
import type { KernelName } from '../engines/types.js';

export const queueName = 'offloop';
/** The kernels a queue job may run: the server's four, and `noop` for the dispatch cost. */
export type QueueKernel = KernelName | 'noop';
export const queueKernels: readonly QueueKernel[] = ['primes', 'pbkdf2', 'blur', 'sleep', 'noop'];

/**
 * Timings that decide how fast a killed worker's job comes back: a worker holds a job's lock for
 * `lockMs` (renewed every half of it while it lives); every `stalledCheckMs` a worker looks for
 * jobs whose lock expired and puts them back. So a job is retried at most about
 * lockMs + stalledCheckMs after its worker died — well inside the server's 30 s default timeout.
 */
export const timing = {
  lockMs: 4000,
  stalledCheckMs: 2000,
  /** Times a job may lose its worker before it fails. */
  maxStalledCount: 2,
  /** How long the server trusts its last "there are workers" answer. */
  workersCacheMs: 500,
  /** Payload keys outlive the request timeout by this much, then Redis drops them by itself. */
  keyGraceMs: 60_000,
} as const;

/** Waiting jobs allowed when --max-queue is 0 (its "auto"): the queue has no pool size to scale by. */
export const defaultMaxWaiting = 256;

export const keys = {
  /** Hash: `args` (JSON with binary arguments left out) and `b<i>` (the i-th argument's bytes). */
  input: (jobId: string) => `offloop:in:${jobId}`,
  /** String: a binary result's bytes. */
  output: (jobId: string) => `offloop:out:${jobId}`,
  /** Pub/sub: the id of a job whose request is gone. */
  cancel: 'offloop:cancel',
} as const;

/** BullMQ's job data: everything else is under `keys.input`. */
export interface JobData {
  kernel: QueueKernel;
  /** Time-to-live for the keys the worker writes. */
  ttlMs: number;
}

/** BullMQ's return value (JSON): who ran it, and the result unless it is binary. */
export interface JobResult {
  worker: string;
  /** A JSON result (primes' count, null for sleep and noop). */
  value?: unknown;
  /** The result is bytes, under `keys.output`. */
  binary?: true;
}

const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;

/** Arguments to hash fields: bytes as they are, the rest as JSON. */
export function encodeArgs(args: readonly unknown[]): Record<string, string | Buffer> {
  const fields: Record<string, string | Buffer> = {};
  const json = args.map((arg, i) => {
    if (!isBytes(arg)) return arg;
    fields[`b${i}`] = Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength);
    return null;
  });
  fields.args = JSON.stringify(json);
  return fields;
}

/** Hash fields back to arguments; undefined when the hash is gone (the request was abandoned). */
export function decodeArgs(fields: Record<string, Buffer>): unknown[] | undefined {
  const json = fields.args;
  if (json === undefined) return undefined;
  const args = JSON.parse(json.toString('utf8')) as unknown[];
  return args.map((arg, i) => fields[`b${i}`] ?? arg);
}

/** `hostname:pid`: which worker ran a job. */
export const workerId = (host: string, pid: number) => `${host}:${pid}`;
