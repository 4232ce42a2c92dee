#!/usr/bin/env node
/**
 * offloop's server from the command line. `offloop` (src/cli.ts, also `npm start`) runs it once
 * its packages are found; started directly (`node dist/src/main.js`, as the tests and the
 * supervisor below do) it assumes they are.
 *
 * libuv reads UV_THREADPOOL_SIZE once, when its pool first starts — and Node may start it while
 * loading modules, before any of our code runs. So when the configured size is not already in
 * the environment, or more than one process is asked for, this process becomes a small
 * supervisor that starts the server processes with the right environment, forwards signals and
 * restarts a process that crashes.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { defaultMaxWaiting } from './queue/protocol.js';
import { clusterMetricsHub } from './server/cluster-metrics.js';
import { ConfigError, helpText, libuvThreadpoolSize, loadConfig, type ServerConfig } from './server/config.js';
import { parseDatabaseUrl } from './server/db/target.js';
import { isListeningMessage, type ListeningMessage } from './server/listening.js';
import { processLogger } from './server/log.js';
import { strategyNames } from './server/strategies.js';

const argv = process.argv.slice(2);
// `offloop worker …` is the queue's worker process, another program: it never returns here.
if (argv[0] === 'worker') await import('./queue/worker-main.js').then((m) => m.runWorker(argv.slice(1)));
const isServerProcess = process.env.OFFLOOP_ROLE === 'server';

function queueLine(config: ServerConfig): string {
  if (!config.redisUrl) return 'off (set REDIS_URL or --redis-url)';
  return `on: jobs in Redis, run by \`offloop worker\` processes (${config.maxQueue || defaultMaxWaiting} may wait)`;
}

/** Whether `host` is reachable from this machine only. */
const isLoopback = (host: string) => /^(127\.\d+\.\d+\.\d+|::1|localhost)$/i.test(host);

function banner(config: ServerConfig, url: string, pids: number[], libuvThreads: number): string {
  const perProcess = pids.length > 1 ? ` per process, ×${pids.length} processes` : '';
  return [
    `offloop listening on ${url}`,
    `  processes     ${pids.length} (pid ${pids.join(', ')})`,
    `  libuv pool    ${libuvThreads} threads${perProcess} (UV_THREADPOOL_SIZE; cpp, rust, builtin, fs, dns)`,
    `  worker pool   ${config.workers} threads${perProcess}, ` +
      `${config.workerPolicy} policy, nice +${config.workerNice} (piscina; worker, /good-ping)`,
    `  native pools  ${config.poolThreads} threads each${perProcess}, ` +
      `${config.poolPolicy} policy, nice ${config.poolNice} (cpp-pool, rust-pool)`,
    `  database      ${database(config)} (DATABASE_URL; /terrible-ping, /good-ping, /perfect-ping, /query)`,
    `  strategies    ${strategyNames.join(', ')}`,
    `  queue         ${queueLine(config)}`,
    `  loop budget   ${config.maxLoopMs} ms per request, ${config.maxLoopShare} of each second ` +
      '(blocking, cpp-sync, rust-sync, /terrible-ping)',
    `  try           curl ${url}/ping   ·   curl '${url}/primes/cpp?limit=10000000'   ·   --help for options`,
    ...(isLoopback(config.host)
      ? []
      : [
          `  WARNING       listening on ${config.host}, not loopback: ` +
            'anyone who can reach it can hold the event loop through the loop-blocking routes',
        ]),
  ].join('\n');
}

function database(config: ServerConfig): string {
  const target = parseDatabaseUrl(config.databaseUrl);
  return target.kind === 'sqlite' ? `SQLite ${target.name}` : `PostgreSQL ${target.name}, pool ${config.dbPoolSize}`;
}

async function serve(config: ServerConfig): Promise<void> {
  const { createServer } = await import('./server/app.js');
  const log = processLogger(config.logLevel); // the one createServer writes to
  const server = await createServer(config);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn({ event: 'signal', signal }, `${signal} again: exiting now`);
      // Cancel running native work first: exiting joins libuv's threads, which would wait for it.
      server.abort();
      setImmediate(() => process.exit(1));
      return;
    }
    stopping = true;
    log.info(
      { event: 'signal', signal, inFlight: server.inFlight },
      `${signal}: finishing ${server.inFlight} in-flight request(s), then exiting`,
    );
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ event: 'shutdown-failed', err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // A process our supervisor started leaves the banner to it. The banner is for people: it goes
  // to stderr, so that stdout holds nothing but log lines, one JSON object each.
  if (!isServerProcess) console.error(banner(config, server.url, [process.pid], server.libuvThreads));
  // Announced only once the signals are handled: whoever reads this may signal at once.
  if (process.send) {
    const { port, url, libuvThreads } = server;
    const pid = process.pid;
    process.send({
      type: 'listening',
      port,
      url,
      libuvThreads,
      workers: config.workers,
      pid,
      pids: [pid],
    } satisfies ListeningMessage);
    // The parent is gone (even SIGKILLed): shut down rather than live on unsupervised.
    process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  }
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer().once('error', reject);
    probe.listen(0, host, () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

function supervise(config: ServerConfig): void {
  const entry = fileURLToPath(import.meta.url);
  const env = { ...process.env, UV_THREADPOOL_SIZE: String(config.threadpool), OFFLOOP_ROLE: 'server' };
  const children = new Map<number, ChildProcess>();
  const log = processLogger(config.logLevel);
  let port = config.port;
  let stopping = false;
  let failed = false;
  // A scrape of any one process answers for all of them: we merge their metrics.
  const metricsHub = config.processes > 1 ? clusterMetricsHub() : undefined;

  /** Starts the server process of `slot`; one that dies after listening is replaced, a second later. */
  const start = (slot: number, replacing = false): Promise<ListeningMessage> =>
    new Promise((resolve, reject) => {
      // Every process after the first binds the port the first one got (it matters for port 0).
      // Detached: a terminal's Ctrl-C reaches only us, and we forward it once.
      const child = fork(entry, [...argv, '--port', String(port)], { env, detached: true, stdio: 'inherit' });
      children.set(slot, child);
      let listened = false;
      // Only its `listening` message: a metrics message may come first while it starts.
      const onListening = (message: unknown) => {
        if (!isListeningMessage(message)) return;
        child.off('message', onListening);
        listened = true;
        metricsHub?.attach(child);
        resolve(message);
      };
      child.on('message', onListening);
      child.once('exit', (code, signal) => {
        children.delete(slot);
        metricsHub?.detach(child);
        if (stopping) {
          if (code !== 0) failed = true;
          if (children.size === 0) process.exit(failed ? 1 : 0);
          return;
        }
        const why = `${signal ?? code}`;
        reject(new Error(`server process ${child.pid} exited (${why}) before listening`));
        // A first start that fails is start-up's failure (below); a process that served, or one
        // started to replace it, is replaced.
        if (!listened && !replacing) return;
        const event = { event: 'process-restart', childPid: child.pid, code, signal, slot, restartInMs: 1000 };
        log.warn(event, `server process ${child.pid} exited (${why}); starting another`);
        setTimeout(() => {
          if (!stopping) void start(slot, true).catch(() => {}); // its own exit handler retries
        }, 1000);
      });
    });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      for (const child of children.values()) child.kill('SIGKILL');
      process.exit(1);
    }
    stopping = true;
    if (children.size === 0) process.exit(0);
    for (const child of children.values()) child.kill(signal);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Started with an IPC channel: our parent is gone (even SIGKILLed), so stop as on SIGTERM.
  if (process.send) process.on('disconnect', () => stop('SIGTERM'));

  (async () => {
    // uWS binds port 0 without SO_REUSEPORT, so the others could not join it: pick the port here.
    if (port === 0 && config.processes > 1) port = await freePort(config.host);
    const first = await start(0);
    port = first.port;
    const rest = await Promise.all(Array.from({ length: config.processes - 1 }, (_, i) => start(i + 1)));
    const pids = [first, ...rest].map((m) => m.pid);
    console.error(banner(config, first.url, pids, first.libuvThreads));
    log.info({ event: 'start', url: first.url, pids, processes: pids.length }, 'supervising');
    process.send?.({ ...first, pids } satisfies ListeningMessage);
  })().catch((error: unknown) => {
    log.error({ event: 'start-failed', err: error }, (error as Error).message);
    console.error(`offloop: ${(error as Error).message}`);
    stopping = true;
    for (const child of children.values()) child.kill('SIGTERM');
    if (children.size === 0) process.exit(1);
    failed = true;
  });
}

let config: ServerConfig;
try {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText());
    process.exit(0);
  }
  config = loadConfig(argv);
} catch (error) {
  const known = error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
  console.error(`offloop: ${known ? (error as Error).message : String(error)}\nRun with --help for the options.`);
  process.exit(2);
}

if (!isServerProcess && (config.processes > 1 || libuvThreadpoolSize() !== config.threadpool)) {
  supervise(config);
} else {
  serve(config).catch((error: unknown) => {
    console.error((error as Error).message);
    process.exit(1);
  });
}
