/**
 * The queue strategy measured beside the in-process ones:
 *
 *   npm run build:ts && node dist/bench/run.js queue [--quick] [--out <dir>]
 *
 * A private redis-server (no persistence) on a free port, offloop's server with --redis-url, and
 * 1 then 2 local `offloop worker` processes (one job at a time each, so adding a worker adds
 * exactly one core's worth of kernel). Under the HTTP table's load — the same route, size and
 * connections — it records req/s, request latency p50/p99 and the /ping p99 ratio for `queue`
 * and, for reference, `cpp-pool`; then the dispatch cost: `noop` round trips through Redis
 * (request → job → worker → completion event) beside cpp-pool's and piscina's noop.
 * Writes <out>/queue.json. Skipped, with a message, where redis-server is not installed.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { cppPool, createWorkers } from '../src/index.js';
import { QueueProducer } from '../src/queue/producer.js';
import { type NodeChild, startNode } from './child.js';
import { cpuMeter } from './cpu.js';
import { drive } from './load.js';
import { describeMachine, endOfPart } from './machine.js';
import { startProbe } from './probe.js';
import type { Profile } from './profile.js';
import { mainEntry, type OffloopProcess, startOffloop } from './server.js';
import { fmt, type LatencySummary, ratio, summarize } from './stats.js';

export interface QueueLoadRow {
  strategy: 'queue' | 'cpp-pool';
  /** Local `offloop worker` processes (0 for an in-process strategy). */
  workers: number;
  reqPerSec: number;
  non2xx: number;
  latency: { p50: number; p99: number };
  pingP99: number;
  pingP99Ratio: number;
  serverCores: number;
}

export interface DispatchFigures extends LatencySummary {
  name: 'queue' | 'cpp-pool' | 'workers';
}

export interface QueueBenchResult {
  part: 'queue';
  profile: Profile['name'];
  machine: ReturnType<typeof describeMachine>;
  route: string;
  connections: number;
  idlePingP99: number;
  load: QueueLoadRow[];
  dispatch: DispatchFigures[];
  /** noop round trip p50 through Redis ÷ piscina's, and ÷ cpp-pool's. */
  dispatchRatio: { vsWorkers: number; vsCppPool: number };
}

function redisServer(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

async function startRedis(path: string): Promise<{ url: string; stop(): void }> {
  // Port 0 is not an option for redis-server: try a few random high ports until one binds.
  for (let attempt = 0; ; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    const proc = spawn(path, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const ready = await new Promise<boolean>((resolve) => {
      proc.stdout.on('data', (d: Buffer) => {
        output += d;
        if (output.includes('Ready to accept connections')) resolve(true);
      });
      proc.once('exit', () => resolve(false));
    });
    if (ready) return { url: `redis://127.0.0.1:${port}`, stop: () => proc.kill('SIGKILL') };
    if (attempt > 5) throw new Error(`redis-server did not start:\n${output}`);
  }
}

const startWorker = (url: string) =>
  startNode(mainEntry, ['worker', '--redis-url', url, '--concurrency', '1'], /"event":"ready"/).then((w) => w.proc);

async function roundTrips(
  name: DispatchFigures['name'],
  call: () => Promise<unknown>,
  timeMs: number,
): Promise<DispatchFigures> {
  for (let i = 0; i < 20; i++) await call(); // warm
  const times: number[] = [];
  const until = performance.now() + timeMs;
  while (performance.now() < until || times.length < 50) {
    const started = performance.now();
    await call();
    times.push(performance.now() - started);
  }
  return { name, ...summarize(times) };
}

export async function runQueueBench(profile: Profile, out: string): Promise<QueueBenchResult | undefined> {
  const path = redisServer();
  if (!path) {
    console.log('queue bench skipped: redis-server is not installed (apt-get install redis-server)');
    return undefined;
  }
  const h = profile.http;
  const machine = describeMachine();
  const redis = await startRedis(path);
  const workers: NodeChild[] = [];
  let server: OffloopProcess | undefined;
  let producer: QueueProducer | undefined;
  const pool = createWorkers({ threads: 1 });
  try {
    server = await startOffloop(['--host', '127.0.0.1', '--redis-url', redis.url, '--max-queue', '10000']);
    const url = server.url;
    const idle = await startProbe(url, h.probeIntervalMs);
    await delay(h.idleS * 1000);
    const idlePingP99 = (await idle.stop()).p99;
    const route = `/primes/:strategy?limit=${h.primesLimit}`;

    const measure = async (strategy: QueueLoadRow['strategy'], count: number): Promise<QueueLoadRow> => {
      const target = `${url}/primes/${strategy}?limit=${h.primesLimit}`;
      // Warm the path (JIT, both ends' connections) with one request per connection.
      await Promise.all(Array.from({ length: h.connections }, () => fetch(target).then((r) => r.arrayBuffer())));
      const meter = cpuMeter(server!.pid);
      const probe = await startProbe(url, h.probeIntervalMs);
      const load = await drive({ url: target, connections: h.connections, durationS: h.loadS });
      const ping = await probe.stop();
      const cpu = meter();
      const row: QueueLoadRow = {
        strategy,
        workers: count,
        reqPerSec: load.reqPerSec,
        non2xx: load.non2xx + load.errors,
        latency: { p50: load.latency.p50, p99: load.latency.p99 },
        pingP99: ping.p99,
        pingP99Ratio: ratio(ping.p99, idlePingP99),
        serverCores: cpu.childS / cpu.wallS,
      };
      const latency = `latency p50 ${fmt(row.latency.p50)} ms p99 ${fmt(row.latency.p99)} ms`;
      const pinged = `ping p99 ${fmt(row.pingP99)} ms (${fmt(row.pingP99Ratio)}× idle)`;
      const failed = row.non2xx ? `, ${row.non2xx} non-2xx` : '';
      const rate = `${fmt(row.reqPerSec)} req/s`;
      console.log(`  ${strategy.padEnd(8)} workers ${count}: ${rate}, ${latency}, ${pinged}${failed}`);
      return row;
    };

    const load: QueueLoadRow[] = [await measure('cpp-pool', 0)];
    for (const count of [1, 2]) {
      while (workers.length < count) workers.push(await startWorker(redis.url));
      load.push(await measure('queue', count));
    }

    // The dispatch cost, one worker: each noop goes through Redis and back; in-process beside it.
    while (workers.length > 1) await workers.pop()!.stop();
    producer = new QueueProducer({ redisUrl: redis.url, maxWaiting: 10_000, timeoutMs: 30_000 });
    await producer.ready(10_000);
    const timeMs = profile.kernels.dispatchTimeMs;
    const dispatch = [
      await roundTrips('queue', () => producer!.run('noop', []), timeMs),
      await roundTrips('cpp-pool', () => cppPool.noop(), timeMs),
      await roundTrips('workers', () => pool.noop(), timeMs),
    ];
    for (const d of dispatch)
      console.log(`  noop round trip ${d.name.padEnd(8)} p50 ${fmt(d.p50)} ms, p99 ${fmt(d.p99)} ms (n=${d.n})`);
    const p50 = (name: string) => dispatch.find((d) => d.name === name)?.p50;
    const result: QueueBenchResult = {
      part: 'queue',
      profile: profile.name,
      machine: endOfPart(machine),
      route,
      connections: h.connections,
      idlePingP99,
      load,
      dispatch,
      dispatchRatio: {
        vsWorkers: ratio(p50('queue'), p50('workers')),
        vsCppPool: ratio(p50('queue'), p50('cpp-pool')),
      },
    };
    await writeFile(join(out, 'queue.json'), `${JSON.stringify(result, null, 2)}\n`);
    const { vsWorkers, vsCppPool } = result.dispatchRatio;
    console.log(`  noop through Redis = ${fmt(vsWorkers)}× piscina's, ${fmt(vsCppPool)}× cpp-pool's`);
    return result;
  } finally {
    await producer?.close();
    await pool.close();
    await cppPool.close();
    await Promise.all(workers.map((w) => w.stop()));
    await server?.proc.stop();
    redis.stop();
  }
}

/** `node dist/bench/run.js queue [--quick] [--out <dir>]`. */
export async function queueMain(argv: string[]): Promise<number> {
  const { parseArgs } = await import('node:util');
  const { profiles } = await import('./profile.js');
  const { values } = parseArgs({
    args: argv,
    options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } },
    strict: true,
  });
  const profile = profiles[values.quick ? 'quick' : 'full'];
  console.log(`offloop bench (${profile.name}): queue — Redis, offloop --redis-url, 1 then 2 local workers`);
  // Only a full run updates bench/results; --quick writes to a scratch folder.
  const out = await (await import('./cli.js')).outputFolder({ quick: values.quick, out: values.out });
  await mkdir(out, { recursive: true });
  await runQueueBench(profile, out);
  return 0;
}
