import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './raw.js';
import { mainEntry } from './server.js';

/** Debian's redis-server, if installed; the queue tests are skipped (with this hint) without it. */
export const redisServerPath = (() => {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
})();
export const noRedisMessage =
  'redis-server is not installed: apt-get install redis-server (the queue tests need a real Redis)';

export interface RedisInstance {
  readonly port: number;
  readonly url: string;
  /** A client for the test's own checks (keys left behind, list lengths). */
  client(): Redis;
  /** Stops the server (its data goes with it: no persistence). */
  stop(): Promise<void>;
  /** Starts it again on the same port, empty. */
  start(): Promise<void>;
}

/** A private redis-server on a free loopback port, without persistence. */
export async function startRedis(): Promise<RedisInstance> {
  if (!redisServerPath) throw new Error(noRedisMessage);
  const port = await freePort();
  let child: ChildProcess | undefined;
  const clients: Redis[] = [];
  const start = () =>
    new Promise<void>((resolve, reject) => {
      const args = [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--loglevel',
        'warning',
      ];
      const proc = spawn(redisServerPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      let output = '';
      const onData = (d: Buffer) => {
        output += d;
        if (output.includes('Ready to accept connections')) resolve();
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${output}`)));
      // At loglevel warning it prints nothing on start: ask it instead.
      const probe = new Redis(port, '127.0.0.1', {
        lazyConnect: true,
        retryStrategy: () => 20,
        maxRetriesPerRequest: null,
      });
      probe.on('error', () => {});
      probe.ping().then(
        () => {
          probe.disconnect();
          resolve();
        },
        () => {},
      );
      proc.once('exit', () => probe.disconnect());
    });
  const stop = () =>
    new Promise<void>((resolve) => {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    client() {
      const client = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: null });
      client.on('error', () => {});
      clients.push(client);
      return client;
    },
    async stop() {
      for (const client of clients.splice(0)) client.disconnect();
      await stop();
    },
    start,
  };
}

export interface WorkerEvent {
  event: string;
  worker: string;
  job?: string;
  kernel?: string;
  attempt?: number;
  [key: string]: unknown;
}

export interface RunningWorker {
  /** `hostname:pid`, from its ready line. */
  readonly id: string;
  readonly child: ChildProcess;
  readonly events: WorkerEvent[];
  /** Resolves with the first matching event from index `from` of `events` on (past or future). */
  next(match: (e: WorkerEvent) => boolean, from?: number): Promise<WorkerEvent>;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `offloop worker` as its own process, the way a user starts it; resolves once it takes jobs. */
export async function startWorker(redisUrl: string, args: string[] = []): Promise<RunningWorker> {
  const child = spawn(process.execPath, [mainEntry, 'worker', '--redis-url', redisUrl, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: WorkerEvent[] = [];
  const waiters: { match: (e: WorkerEvent) => boolean; resolve: (e: WorkerEvent) => void }[] = [];
  let output = '';
  let partial = '';
  child.stderr!.on('data', (d: Buffer) => (output += d));
  child.stdout!.on('data', (d: Buffer) => {
    output += d;
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      let event: WorkerEvent;
      try {
        event = JSON.parse(line) as WorkerEvent;
      } catch {
        continue;
      }
      events.push(event);
      for (const waiter of [...waiters]) {
        if (!waiter.match(event)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(event);
      }
    }
  });
  // 'close', not 'exit': after 'exit', what the worker wrote may still be unread.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const next = (match: (e: WorkerEvent) => boolean, from = 0) => {
    const seen = events.slice(from).find(match);
    return seen ? Promise.resolve(seen) : new Promise<WorkerEvent>((resolve) => waiters.push({ match, resolve }));
  };
  const ready = await Promise.race([
    next((e) => e.event === 'ready'),
    exited.then((code) => Promise.reject(new Error(`worker exited (${code}) before it was ready:\n${output}`))),
  ]);
  return {
    id: ready.worker,
    child,
    events,
    next,
    output: () => output,
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
