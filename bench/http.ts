import { availableParallelism } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type Arg, kernelRoutes } from '../src/engines/kernels.js';
import { startNode } from './child.js';
import { type CpuUse, cpuMeter } from './cpu.js';
import { drive, type LoadOptions } from './load.js';
import { describeMachine, endOfPart, libuvPoolSize } from './machine.js';
import { startProbe } from './probe.js';
import type { Profile } from './profile.js';
import type { Step } from './progress.js';
import type { HeavyRow, HttpResult, LoadFigures, ProbeFigures, RoutingRow, SeedRow, StarvationRow } from './results.js';
import { type OffloopProcess, startOffloop } from './server.js';
import { measureStarvation, starvationStrategies } from './starvation.js';
import { fmt, ratio, summarize } from './stats.js';
import type { StrategyInfo } from './strategies.js';

/**
 * The HTTP harness: offloop's server as its own process (`node dist/src/main.js --port 0`), a
 * heavy route driven by autocannon at a fixed concurrency while a probe pings /ping on its own
 * connection; then the seed routes, routing overhead against a bare uWS server, and libuv pool
 * starvation. The load generator and probe share the machine's cores with the server — every
 * load figure carries the CPU that each side used.
 */

const bareEntry = fileURLToPath(new URL('./bare-uws.js', import.meta.url));
// The loop strategies are measured unguarded (no loop budget): showing what they cost is the point.
const serverArgs = ['--host', '127.0.0.1', '--max-loop-share', '1', '--max-loop-ms', '3600000'];
const heavyRoutes = ['primes', 'pbkdf2'] as const;
const seedPaths = ['/terrible-ping', '/good-ping', '/perfect-ping'] as const;

/** One server's figures over the routing rounds; contention only ever hurts, so its best round counts. */
function rounds(rows: readonly RoutingRow[], server: RoutingRow['server']): { fastest?: number; leanest?: number } {
  const mine = rows.filter((r) => r.server === server);
  if (mine.length === 0) return {};
  return {
    fastest: Math.max(...mine.map((r) => r.reqPerSec)),
    leanest: Math.min(...mine.map((r) => r.serverCpuUsPerReq)),
  };
}

export interface Plan {
  steps: Step[];
  result(): HttpResult;
  cleanup(): Promise<void>;
}

/** In-flight plus queued requests over every strategy's gate, from the server's /metrics. */
function busyRequests(metrics: string): number {
  let busy = 0;
  for (const line of metrics.split('\n')) {
    const match = /^offloop_(?:inflight|queued)_requests\{[^}]*\}\s+(\S+)$/.exec(line);
    if (match) busy += Number(match[1]);
  }
  return busy;
}

/**
 * Waits until the server has finished the work the last load left behind (requests a blocked
 * loop had not read yet, jobs still queued), so it cannot leak into the next measurement.
 */
async function settle(url: string, timeoutMs = 120_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let quietInARow = 0;
  while (performance.now() < deadline) {
    const started = performance.now();
    const text = await (await fetch(`${url}/metrics`)).text();
    quietInARow = busyRequests(text) === 0 && performance.now() - started < 50 ? quietInARow + 1 : 0;
    if (quietInARow === 2) return;
    await delay(100);
  }
  throw new Error(`the server at ${url} was still busy after ${timeoutMs} ms`);
}

const describeLoad = (load: LoadFigures, ping: ProbeFigures, idleP99: number, cpu: CpuUse) =>
  `${fmt(load.reqPerSec)} req/s` +
  `${load.non2xx + load.errors ? ` (${load.non2xx} non-2xx, ${load.errors} errors)` : ''}; ` +
  `ping p50 ${fmt(ping.p50)} ms, p99 ${fmt(ping.p99)} ms (${fmt(ratio(ping.p99, idleP99))}× idle), ` +
  `max ${fmt(ping.max)} ms; ` +
  `CPU server ${fmt(cpu.childS / cpu.wallS, 2)} cores, harness ${fmt(cpu.harnessS / cpu.wallS, 2)}`;

export function httpPlan(profile: Profile, table: readonly StrategyInfo[]): Plan {
  const h = profile.http;
  const started = performance.now();
  const machine = describeMachine();
  let server: OffloopProcess | undefined;
  let idlePing: ProbeFigures | undefined;
  const heavy: HeavyRow[] = [];
  const seed: SeedRow[] = [];
  const routing: RoutingRow[] = [];
  const starvation: StarvationRow[] = [];
  const steps: Step[] = [];
  const need = () => {
    if (!server) throw new Error('the server did not start');
    return server;
  };

  /** Load + probe + CPU, then wait for the server to be idle again. */
  async function underLoad(load: Omit<LoadOptions, 'connections' | 'durationS'>) {
    const s = need();
    const meter = cpuMeter(s.pid);
    const probe = await startProbe(s.url, h.probeIntervalMs);
    let figures: LoadFigures;
    try {
      figures = await drive({ ...load, connections: h.connections, durationS: h.loadS });
    } catch (error) {
      await probe.stop(1000).catch(() => {}); // no stray pings into the next measurement
      throw error;
    }
    const { samples: _samples, ...ping } = await probe.stop();
    const cpu = meter();
    await settle(s.url);
    return { load: figures, ping, cpu };
  }

  steps.push({
    label: `http · start offloop: node dist/src/main.js --port 0 ${serverArgs.join(' ')}`,
    async run() {
      server = await startOffloop(serverArgs);
      await settle(server.url);
      return `${server.url}, pid ${server.pid}, libuv pool ${server.libuvThreads}, worker pool ${server.workers}`;
    },
  });
  steps.push({
    label: `http · idle ping: /ping every ${h.probeIntervalMs} ms for ${h.idleS} s`,
    async run() {
      const probe = await startProbe(need().url, h.probeIntervalMs);
      await delay(h.idleS * 1000);
      const { samples: _samples, ...figures } = await probe.stop();
      idlePing = figures;
      return `p50 ${fmt(figures.p50)} ms, p99 ${fmt(figures.p99)} ms, max ${fmt(figures.max)} ms (n=${figures.n})`;
    },
  });

  // Each request as the kernel table lays it out: query arguments, or a JSON body; the bench's sizes.
  const values: Record<string, unknown> = {
    limit: h.primesLimit,
    password: 'correct horse',
    salt: 'NaCl',
    iterations: h.pbkdf2Iterations,
    keylen: 32,
  };
  for (const route of heavyRoutes) {
    const spec = kernelRoutes.find((r) => r.kernel === route)!;
    const value = (arg: Arg) => values[arg.name] ?? (arg.kind === 'integer' ? arg.default : undefined);
    const query = spec.args
      .filter((a) => a.from === 'query')
      .map((a) => `${a.name}=${value(a)}`)
      .join('&');
    const json = spec.args.filter((a) => a.from === 'json').map((a) => [a.name, value(a)]);
    const method = spec.method === 'post' ? ('POST' as const) : ('GET' as const);
    const body = json.length > 0 ? JSON.stringify(Object.fromEntries(json)) : undefined;
    for (const strategy of table.filter((s) => s.kernels.includes(route))) {
      const path = `/${route}/${strategy.name}${query && `?${query}`}`;
      steps.push({
        label:
          `http · ${method} ${path} · ${h.connections} connections × ${h.loadS} s, ` +
          `ping every ${h.probeIntervalMs} ms`,
        async run() {
          const s = need();
          const url = `${s.url}${path}`;
          const init = {
            method,
            ...(body === undefined ? {} : { body, headers: { 'content-type': 'application/json' } }),
          };
          // Requests one at a time: how long the kernel takes at this size, as the server timed it.
          const alone: number[] = [];
          for (let i = 0; i < 3; i++) {
            const reply = await fetch(url, init);
            if (reply.status !== 200)
              throw new Error(`${method} ${path} answered ${reply.status}: ${await reply.text()}`);
            alone.push(((await reply.json()) as { elapsedMs: number }).elapsedMs);
          }
          const elapsedMs = summarize(alone).p50;
          // Warm the path (JIT, pools) with one request per connection before measuring.
          await Promise.all(Array.from({ length: h.connections }, () => fetch(url, init).then((r) => r.arrayBuffer())));
          await settle(s.url);
          const measured = await underLoad({ url, method, ...(body === undefined ? {} : { body }) });
          heavy.push({
            route,
            strategy: strategy.name,
            kernelMs: elapsedMs,
            ...measured,
            pingP99Ratio: ratio(measured.ping.p99, idlePing?.p99),
          });
          const load = describeLoad(measured.load, measured.ping, idlePing?.p99 ?? NaN, measured.cpu);
          return `kernel ${fmt(elapsedMs)} ms; ${load}`;
        },
      });
    }
  }

  for (const seedPath of seedPaths) {
    const path = `${seedPath}?ms=${h.seedMs}`;
    steps.push({
      label:
        `http · seed route GET ${path} · ${h.connections} connections × ${h.loadS} s, ` +
        `ping every ${h.probeIntervalMs} ms`,
      async run() {
        const measured = await underLoad({ url: `${need().url}${path}` });
        seed.push({ path, ...measured, pingP99Ratio: ratio(measured.ping.p99, idlePing?.p99) });
        return describeLoad(measured.load, measured.ping, idlePing?.p99 ?? NaN, measured.cpu);
      },
    });
  }

  /** /ping as fast as the generator can send it; the server's CPU per answer beside the rate. */
  async function flood(name: RoutingRow['server'], round: number, url: string, pid: number): Promise<string> {
    const meter = cpuMeter(pid);
    const load = await drive({ url: `${url}/ping`, connections: h.routingConnections, durationS: h.routingS });
    const cpu = meter();
    const row = {
      server: name,
      round,
      reqPerSec: load.reqPerSec,
      ok: load.ok,
      non2xx: load.non2xx,
      cpu,
      serverCpuUsPerReq: (cpu.childS * 1e6) / load.ok,
    };
    routing.push(row);
    return (
      `${fmt(row.reqPerSec)} req/s; server ${fmt(row.serverCpuUsPerReq)} µs CPU per request; ` +
      `CPU server ${fmt(cpu.childS / cpu.wallS, 2)} cores, harness ${fmt(cpu.harnessS / cpu.wallS, 2)}`
    );
  }
  // Both servers run side by side and take turns, so a burst of load from elsewhere on the
  // machine hits both alike; each side's best round is compared (contention only ever slows).
  let bare: { url: string; pid: number; stop: () => Promise<unknown> } | undefined;
  const needBare = () => {
    if (!bare) throw new Error('the bare uWS server did not start');
    return bare;
  };
  steps.push({
    label: 'http · routing overhead: start the bare uWS hello server (dist/bench/bare-uws.js), warm both',
    async run() {
      const { proc, match } = await startNode(bareEntry, [], /listening on (http:\/\/\S+) \(pid (\d+)\)/);
      bare = { url: match[1]!, pid: Number(match[2]), stop: () => proc.stop() };
      // JIT warm-up of both request paths, unmeasured.
      for (const url of [need().url, bare.url])
        await drive({ url: `${url}/ping`, connections: h.routingConnections, durationS: Math.min(1, h.routingS) });
      return `${bare.url}, pid ${bare.pid}`;
    },
  });
  for (let round = 1; round <= h.routingRounds; round++) {
    steps.push({
      label:
        `http · routing overhead ${round}/${h.routingRounds}: offloop GET /ping, ` +
        `${h.routingConnections} connections × ${h.routingS} s`,
      run: () => flood('offloop', round, need().url, need().pid),
    });
    steps.push({
      label: `http · routing overhead ${round}/${h.routingRounds}: bare uWS GET /ping, same load`,
      run: () => flood('bare-uws', round, needBare().url, needBare().pid),
    });
  }
  steps.push({
    label: 'http · routing overhead: stop the bare server',
    async run() {
      await needBare().stop();
      bare = undefined;
    },
  });
  steps.push({
    label: 'http · stop offloop (SIGTERM)',
    async run() {
      const code = await need().proc.stop();
      if (code !== 0) throw new Error(`offloop exited ${code}:\n${need().proc.output()}`);
    },
  });

  // Twice as many jobs as the larger of libuv's pool and the cores (a dedicated pool's default
  // size): every pool we may fill is full and has a queue, whichever pool the strategy uses.
  const starve = profile.starvation;
  const libuvThreads = () => server?.libuvThreads ?? libuvPoolSize();
  const jobsInFlight = () => 2 * Math.max(availableParallelism(), libuvThreads());
  for (const strategy of starvationStrategies(table)) {
    steps.push({
      label:
        `http · pool starvation · ${strategy}: fs.promises.readFile every ${starve.intervalMs} ms, ` +
        `${starve.idleS} s idle, then ${starve.loadedS} s with ${strategy} jobs filling its pool (child process)`,
      async run() {
        const row = await measureStarvation(
          {
            strategy,
            idleS: starve.idleS,
            loadedS: starve.loadedS,
            intervalMs: starve.intervalMs,
            jobs: jobsInFlight(),
            primesLimit: starve.primesLimit,
            pbkdf2Iterations: starve.pbkdf2Iterations,
          },
          libuvThreads(),
        );
        starvation.push(row);
        return (
          `fs read p99 ${fmt(row.idle.p99)} ms idle → ${fmt(row.loaded.p99)} ms with ` +
          `${row.jobsInFlight} ${row.kernel} jobs on ${row.pool} (${fmt(row.ratio)}×); ${fmt(row.jobsPerSec)} jobs/s`
        );
      },
    });
  }

  const none: ProbeFigures = { n: 0, mean: NaN, p50: NaN, p99: NaN, max: NaN, lost: 0 };
  return {
    steps,
    result: () => ({
      part: 'http',
      profile: profile.name,
      machine: endOfPart(machine),
      durationS: (performance.now() - started) / 1000,
      note:
        `The load generator (autocannon) and the ping probe run in the harness process ` +
        `on the same ${machine.cores} cores as the server, ` +
        'so they compete with it for CPU: each load figure comes with the CPU time both sides used ' +
        '(cores = CPU seconds ÷ wall seconds).',
      server: {
        libuvThreads: server?.libuvThreads ?? NaN,
        workers: server?.workers ?? NaN,
        args: ['--port', '0', ...serverArgs],
      },
      settings: { ...h, starvation: { ...starve, jobsInFlight: jobsInFlight() } },
      idlePing: idlePing ?? none,
      heavy,
      seed,
      routing,
      routingOverhead: ratio(rounds(routing, 'offloop').fastest, rounds(routing, 'bare-uws').fastest),
      routingCpuRatio: ratio(rounds(routing, 'offloop').leanest, rounds(routing, 'bare-uws').leanest),
      starvation,
    }),
    async cleanup() {
      await Promise.all([server?.proc.stop(), bare?.stop()]);
    },
  };
}
