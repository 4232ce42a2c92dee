import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import type { PoolPolicy } from '../engines/addon.js';
import { poolLimits } from '../engines/native.js';
import { DatabaseUrlError, defaultDatabaseUrl, parseDatabaseUrl } from './db/target.js';

/**
 * Server configuration: one table gives every option its flag, environment variable, default and
 * help line, so `--help`, parsing and the README cannot drift apart.
 */
export interface ServerConfig {
  port: number;
  host: string;
  /** libuv's threadpool size (UV_THREADPOOL_SIZE), shared by cpp, rust, builtin, fs, dns, zlib. */
  threadpool: number;
  /** piscina worker threads (the `worker` strategy and /good-ping). */
  workers: number;
  /** Each worker's V8 old-generation limit in MiB; 0 = V8's default. A task past it kills its worker. */
  workerHeapMb: number;
  /** How the worker threads are scheduled: idle (SCHED_IDLE), batch or normal. */
  workerPolicy: PoolPolicy;
  /** How much each worker thread lowers its nice value (piscina's niceIncrement). */
  workerNice: number;
  /** Threads of each addon's dedicated pool (the `cpp-pool` and `rust-pool` strategies). */
  poolThreads: number;
  /** The dedicated pools' nice value: higher is lower priority than the event loop. */
  poolNice: number;
  /** How the dedicated pools' threads are scheduled: idle (SCHED_IDLE), batch or normal. */
  poolPolicy: PoolPolicy;
  /** Largest request body, in bytes (each route may allow less). */
  bodyLimit: number;
  /** Bytes of request bodies buffered across all requests at once (503 past it). */
  maxBodyMemory: number;
  /** Longest estimated event-loop time of one request on a loop-blocking route (422 past it). */
  maxLoopMs: number;
  /** Share of each second that loop-blocking routes may hold the loop (503 past it). */
  maxLoopShare: number;
  /** Shed new work (503) while the loop was blocked longer than this in the last sample, ms; 0 = off. */
  maxLoopDelay: number;
  /** Shed new work while the loop was busy more than this share of the last sample (0..1); 0 = off. */
  maxLoopUtilization: number;
  /** Shed new work while the V8 heap in use is past this many MiB; 0 = off. */
  maxHeapMb: number;
  /** Shed new work while the resident set is past this many MiB; 0 = off. */
  maxRssMb: number;
  /** Requests one pool of threads runs at once, across the strategies that share it; `0` = its size. */
  maxInFlight: number;
  /** Requests one pool of threads holds waiting; `0` = 4 × its size. */
  maxQueue: number;
  /** Milliseconds before a request is answered 504 and its work cancelled. */
  timeout: number;
  /** Milliseconds a graceful shutdown waits for in-flight requests. */
  shutdownTimeout: number;
  /** Server processes sharing the port (SO_REUSEPORT). */
  processes: number;
  /** The seed routes' database: `sqlite:PATH` or `postgres://…` (DATABASE_URL). */
  databaseUrl: string;
  /** PostgreSQL connections in the pool for awaited queries. */
  dbPoolSize: number;
  /** Redis for the `queue` strategy (its jobs run in `offloop worker` processes); '' = off. */
  redisUrl: string;
  /** The least severe log lines written (pino's levels); `info` includes one access line per request. */
  logLevel: LogLevel;
}

/** pino's levels, and `silent`: what --log-level accepts. */
export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

type Kind = 'int' | 'number' | 'string';
interface OptionSpec {
  key: keyof ServerConfig;
  flag: string;
  env: string;
  kind: Kind;
  help: string;
  fallback: () => number | string;
  min?: number;
  max?: number;
  /** Also accepts the word `auto` (= the number of cores). */
  auto?: boolean;
  /** A string option's only accepted values. */
  choices?: readonly string[];
}

const cores = () => availableParallelism();
const minWorkerHeapMb = 32;

export const optionSpecs: readonly OptionSpec[] = [
  {
    key: 'port',
    flag: 'port',
    env: 'PORT',
    kind: 'int',
    min: 0,
    max: 65_535,
    fallback: () => 3000,
    help: 'TCP port; 0 picks a free one and prints it',
  },
  {
    key: 'host',
    flag: 'host',
    env: 'HOST',
    kind: 'string',
    fallback: () => '127.0.0.1',
    help: 'address to listen on (loopback; another address makes the loop-blocking routes reachable from it)',
  },
  {
    key: 'threadpool',
    flag: 'threadpool',
    env: 'UV_THREADPOOL_SIZE',
    kind: 'int',
    min: 1,
    max: 1024,
    fallback: () => 4,
    help: "libuv's threadpool size (cpp, rust, builtin, and Node's fs/dns/crypto/zlib)",
  },
  {
    key: 'workers',
    flag: 'workers',
    env: 'OFFLOOP_WORKERS',
    kind: 'int',
    min: 1,
    max: 1024,
    auto: true,
    fallback: cores,
    help: 'worker threads in the piscina pool (worker strategy, /good-ping)',
  },
  {
    key: 'workerHeapMb',
    flag: 'worker-heap-mb',
    env: 'OFFLOOP_WORKER_HEAP_MB',
    kind: 'int',
    min: 0,
    max: 65_536,
    fallback: () => 0,
    help: "each worker's JS heap limit in MiB (0 = V8's default); a task past it gets 500, its worker is replaced",
  },
  {
    key: 'workerPolicy',
    flag: 'worker-policy',
    env: 'OFFLOOP_WORKER_POLICY',
    kind: 'string',
    choices: poolLimits.policies,
    fallback: () => 'idle',
    help: 'scheduling of the worker threads, as --pool-policy is of the native pools (normal: at --worker-nice)',
  },
  {
    key: 'workerNice',
    flag: 'worker-nice',
    env: 'OFFLOOP_WORKER_NICE',
    kind: 'int',
    min: 0,
    max: 19,
    fallback: () => 0,
    help: 'how much each worker thread lowers its nice value (the worker pool niceIncrement)',
  },
  {
    key: 'poolThreads',
    flag: 'pool-threads',
    env: 'OFFLOOP_POOL_THREADS',
    kind: 'int',
    min: 1,
    max: 256,
    auto: true,
    fallback: cores,
    help: "threads in each addon's dedicated pool (cpp-pool, rust-pool)",
  },
  {
    key: 'poolNice',
    flag: 'pool-nice',
    env: 'OFFLOOP_POOL_NICE',
    kind: 'int',
    min: 0,
    max: 19,
    fallback: () => 10,
    help: "nice value of the dedicated pools' threads (higher = lower priority than the loop)",
  },
  {
    key: 'poolPolicy',
    flag: 'pool-policy',
    env: 'OFFLOOP_POOL_POLICY',
    kind: 'string',
    choices: poolLimits.policies,
    fallback: () => 'idle',
    help:
      "scheduling of the dedicated pools' threads: " +
      'idle (only when nothing else wants a CPU), batch or normal (at --pool-nice)',
  },
  {
    key: 'bodyLimit',
    flag: 'body-limit',
    env: 'OFFLOOP_BODY_LIMIT',
    kind: 'int',
    min: 1,
    max: 2 ** 30,
    fallback: () => 64 << 20,
    help: 'largest request body in bytes (413 past it; pbkdf2 JSON: 64 KiB)',
  },
  {
    key: 'maxBodyMemory',
    flag: 'max-body-memory',
    env: 'OFFLOOP_MAX_BODY_MEMORY',
    kind: 'int',
    min: 1,
    max: 2 ** 40,
    fallback: () => 256 << 20,
    help: 'bytes of request bodies held at once, all requests together (503 past it)',
  },
  {
    key: 'maxLoopMs',
    flag: 'max-loop-ms',
    env: 'OFFLOOP_MAX_LOOP_MS',
    kind: 'int',
    min: 1,
    max: 3_600_000,
    fallback: () => 10_000,
    help: 'longest estimated event-loop time of one loop-blocking request (422 past it)',
  },
  {
    key: 'maxLoopShare',
    flag: 'max-loop-share',
    env: 'OFFLOOP_MAX_LOOP_SHARE',
    kind: 'number',
    min: 0.01,
    max: 1,
    fallback: () => 0.5,
    help: 'share of each second loop-blocking routes may hold the loop (503 past it)',
  },
  {
    key: 'maxLoopDelay',
    flag: 'max-loop-delay',
    env: 'OFFLOOP_MAX_LOOP_DELAY',
    kind: 'int',
    min: 0,
    max: 3_600_000,
    fallback: () => 0,
    help: 'shed new work (503) while the event loop was blocked longer than this many ms lately; 0 = off',
  },
  {
    key: 'maxLoopUtilization',
    flag: 'max-loop-utilization',
    env: 'OFFLOOP_MAX_LOOP_UTILIZATION',
    kind: 'number',
    min: 0,
    max: 1,
    fallback: () => 0,
    help: 'shed new work (503) while the event loop was busy more than this share (0..1) lately; 0 = off',
  },
  {
    key: 'maxHeapMb',
    flag: 'max-heap-mb',
    env: 'OFFLOOP_MAX_HEAP_MB',
    kind: 'int',
    min: 0,
    max: 1_048_576,
    fallback: () => 0,
    help: 'shed new work (503) while the JS heap in use is past this many MiB; 0 = off',
  },
  {
    key: 'maxRssMb',
    flag: 'max-rss-mb',
    env: 'OFFLOOP_MAX_RSS_MB',
    kind: 'int',
    min: 0,
    max: 1_048_576,
    fallback: () => 0,
    help: 'shed new work (503) while the resident set is past this many MiB; 0 = off',
  },
  {
    key: 'maxInFlight',
    flag: 'max-inflight',
    env: 'OFFLOOP_MAX_INFLIGHT',
    kind: 'int',
    min: 0,
    max: 1_000_000,
    fallback: () => 0,
    help: "requests one pool of threads runs at once (cpp, rust and builtin share libuv's); 0 = its size",
  },
  {
    key: 'maxQueue',
    flag: 'max-queue',
    env: 'OFFLOOP_MAX_QUEUE',
    kind: 'int',
    min: 0,
    max: 1_000_000,
    fallback: () => 0,
    help:
      'requests one pool of threads holds waiting (503 past it); ' +
      '0 = 4 × its size (queue: jobs waiting in Redis, 0 = 256)',
  },
  {
    key: 'timeout',
    flag: 'timeout',
    env: 'OFFLOOP_TIMEOUT',
    kind: 'int',
    min: 1,
    max: 3_600_000,
    fallback: () => 30_000,
    help: 'ms before a request gets 504 and its work is cancelled',
  },
  {
    key: 'shutdownTimeout',
    flag: 'shutdown-timeout',
    env: 'OFFLOOP_SHUTDOWN_TIMEOUT',
    kind: 'int',
    min: 0,
    max: 3_600_000,
    fallback: () => 10_000,
    help: 'ms a graceful shutdown waits for in-flight requests',
  },
  {
    key: 'databaseUrl',
    flag: 'database-url',
    env: 'DATABASE_URL',
    kind: 'string',
    fallback: () => defaultDatabaseUrl,
    help: "the seed routes' database: sqlite:PATH (a file, created if missing) or postgres://user:pass@host:port/db",
  },
  {
    key: 'dbPoolSize',
    flag: 'db-pool',
    env: 'OFFLOOP_DB_POOL',
    kind: 'int',
    min: 1,
    max: 1000,
    fallback: () => 10,
    help: 'PostgreSQL connections for awaited queries (/perfect-ping, /query/async)',
  },
  {
    key: 'redisUrl',
    flag: 'redis-url',
    env: 'REDIS_URL',
    kind: 'string',
    fallback: () => '',
    help: 'redis://host:port for the queue strategy (jobs run by `offloop worker`); unset = off',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: 'LOG_LEVEL',
    kind: 'string',
    choices: logLevels,
    fallback: () => 'info',
    help: 'least severe log lines written, as JSON on stdout (info: one access line per request; warn: none)',
  },
  {
    key: 'processes',
    flag: 'processes',
    env: 'OFFLOOP_PROCESSES',
    kind: 'int',
    min: 1,
    max: 256,
    auto: true,
    fallback: () => 1,
    help: 'server processes sharing the port; auto = one per core',
  },
];

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function convert(spec: OptionSpec, raw: string, source: string): number | string {
  if (spec.kind === 'string') {
    // Empty is allowed only where the default is empty: it means "off" (REDIS_URL).
    if (raw === '' && spec.fallback() !== '') throw new ConfigError(`${source} must not be empty`);
    if (spec.choices && !spec.choices.includes(raw)) {
      throw new ConfigError(`${source} must be one of ${spec.choices.join(', ')}; got "${raw.slice(0, 40)}"`);
    }
    return raw;
  }
  if (spec.auto && raw === 'auto') return cores();
  if (spec.kind === 'number') {
    const value = /^\d*\.?\d+$/.test(raw) ? Number(raw) : NaN;
    if (!(value >= spec.min! && value <= spec.max!))
      throw new ConfigError(`${source} must be a number from ${spec.min} to ${spec.max}; got "${raw}"`);
    return value;
  }
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < spec.min! || value > spec.max!) {
    throw new ConfigError(
      `${source} must be an integer from ${spec.min} to ${spec.max}${spec.auto ? ' or "auto"' : ''}; got "${raw}"`,
    );
  }
  return value;
}

/** Flags beat environment variables, which beat defaults. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(optionSpecs.map((s) => [s.flag, { type: 'string' as const }])),
    strict: true,
    allowPositionals: false,
  });
  const config: Record<string, number | string> = {};
  for (const spec of optionSpecs) {
    const flag = values[spec.flag];
    const fromEnv = env[spec.env];
    config[spec.key] =
      typeof flag === 'string'
        ? convert(spec, flag, `--${spec.flag}`)
        : fromEnv !== undefined && fromEnv !== ''
          ? convert(spec, fromEnv, spec.env)
          : spec.fallback();
  }
  return checked(config as unknown as ServerConfig);
}

/** Rules between options. */
function checked(config: ServerConfig): ServerConfig {
  try {
    parseDatabaseUrl(config.databaseUrl, '--database-url (DATABASE_URL)');
  } catch (error) {
    if (error instanceof DatabaseUrlError) throw new ConfigError(error.message);
    throw error;
  }
  // V8 aborts the whole process — not just the worker — when one allocation cannot fit a
  // worker's heap limit, and a request body can become one string in a worker.
  // Below this a worker cannot even load its modules: the pool would fail at start.
  if (config.workerHeapMb > 0 && config.workerHeapMb < minWorkerHeapMb) {
    throw new ConfigError(
      `--worker-heap-mb must be 0 (V8's default) or at least ${minWorkerHeapMb}; got ${config.workerHeapMb}`,
    );
  }
  if (config.workerHeapMb > 0 && config.bodyLimit > (config.workerHeapMb << 20) / 4) {
    throw new ConfigError(
      `--body-limit (${config.bodyLimit} bytes) must be at most a quarter of ` +
        `--worker-heap-mb (${config.workerHeapMb} MiB)`,
    );
  }
  if (config.redisUrl !== '' && !/^rediss?:\/\/./.test(config.redisUrl)) {
    throw new ConfigError(`--redis-url must be a redis:// or rediss:// URL; got "${config.redisUrl}"`);
  }
  return config;
}

/**
 * libuv reads UV_THREADPOOL_SIZE once, when its pool first starts, as atoi() clamped to 1..1024
 * (4 when unset) — so this is the size in force, whatever the configuration asked for later.
 */
export function libuvThreadpoolSize(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.UV_THREADPOOL_SIZE;
  if (raw === undefined) return 4;
  const parsed = Number.parseInt(raw, 10);
  return Math.min(Math.max(Number.isNaN(parsed) ? 0 : parsed, 1), 1024);
}

/** The defaults with `options` on top, each checked against its bounds (for `createServer`). */
export function resolveConfig(options: Partial<ServerConfig>): ServerConfig {
  const config = loadConfig([], {});
  for (const spec of optionSpecs) {
    const value = options[spec.key];
    if (value === undefined) continue;
    const shown = typeof value === 'number' || typeof value === 'string' ? String(value) : '';
    if (typeof value !== (spec.kind === 'string' ? 'string' : 'number'))
      throw new ConfigError(`options.${spec.key} must be ${spec.kind === 'string' ? 'a string' : 'a number'}`);
    (config as unknown as Record<string, unknown>)[spec.key] = convert(spec, shown, `options.${spec.key}`);
  }
  return checked(config);
}

/** Every option, its variable and default, for `--help`. */
export function helpText(): string {
  const rows = optionSpecs.map((s) => {
    const fallback = s.auto && s.fallback === cores ? `auto (${cores()})` : String(s.fallback());
    const value = s.choices ? s.choices.join('|') : s.kind === 'string' ? 'text' : 'n';
    return [`  --${s.flag} <${value}>`, s.env, fallback, s.help];
  });
  const width = (i: number) => Math.max(...rows.map((r) => r[i]!.length));
  const lines = rows.map(
    (r) => `${r[0]!.padEnd(width(0))}  ${r[1]!.padEnd(width(1))}  ${r[2]!.padEnd(width(2))}  ${r[3]}`,
  );
  return [
    'Usage: offloop [options]           the server',
    '       offloop worker [options]    a queue worker (offloop worker --help)',
    '       offloop --version',
    '(in a clone of the repository: npm start -- [options], npm run worker -- [options])',
    '',
    'offloop serves the same CPU work under every strategy, so you can see which ones keep',
    'the event loop free. Each option may also be set by its environment variable.',
    '',
    `${'  option'.padEnd(width(0))}  ${'variable'.padEnd(width(1))}  ${'default'.padEnd(width(2))}  meaning`,
    ...lines,
    `${'  --help'.padEnd(width(0))}  ${''.padEnd(width(1))}  ${''.padEnd(width(2))}  this text`,
  ].join('\n');
}
