import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startNode } from './child.js';
import { cpuMeter } from './cpu.js';
import { allowedCores, defaultPlacement, firstCore, lastCore, runLoad } from './harness.js';
import type { Profile } from './profile.js';
import type { Step } from './progress.js';
import type { RoutingResult, RoutingRow } from './results.js';
import { benchServerArgs, type OffloopProcess, serverFlags, startOffloop } from './server.js';
import { fmt, type Repeated, ratio, repeated } from './stats.js';

/**
 * Routing overhead: what offloop's machinery (routing table, Exchange, deadlines, metrics, the
 * access log) costs per request, against a bare uWS server answering the same bodies
 * (bench/bare-uws.ts). A Node load generator cannot saturate uWS — it would measure itself — so
 * this uses `wrk` when installed, pinned to the last core while the servers' loops are pinned to
 * the first; without wrk it falls back to autocannon and compares the servers' CPU per request.
 */

const execFileP = promisify(execFile);
const bareEntry = fileURLToPath(new URL('./bare-uws.js', import.meta.url));

/** The routes measured: /ping (routing alone), and a trivial kernel call answered on the loop. */
export const routingRoutes = [
  { name: 'ping', path: '/ping' },
  { name: 'primes', path: '/primes/cpp-sync?limit=10' },
] as const;

/** The servers compared: offloop with its default log level and silent (when it has --log-level), and bare uWS. */
const servers = ['offloop', 'offloop-silent', 'bare-uws'] as const;
export type RoutingServer = (typeof servers)[number];

let wrkPath: string | null | undefined;
export function wrk(): string | null {
  if (wrkPath === undefined) {
    try {
      wrkPath = execFileSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).trim() || null;
    } catch {
      wrkPath = null;
    }
  }
  return wrkPath;
}

/** Parses wrk's summary: requests, non-2xx answers, socket errors, and its Requests/sec. */
export function parseWrk(text: string): { requests: number; non2xx: number; errors: number; reqPerSec: number } {
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const reqPerSec = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  return { requests, non2xx, errors, reqPerSec };
}

/** wrk takes whole seconds. */
const wrkSeconds = (s: number) => Math.max(1, Math.round(s));

/** Pins every thread of `pid` to one core (or back to all of them): only the loop matters on these routes. */
async function pin(pid: number, core: number | undefined): Promise<void> {
  const cores = core === undefined ? allowedCores().join(',') : String(core);
  await execFileP('taskset', ['-a', '-p', '-c', cores, String(pid)]).catch(() => {});
}

/**
 * offloop ÷ bare for one route, per round, then median and spread over the rounds: by `rate`
 * (req/s; meaningful when the generator is not the bottleneck, i.e. wrk), or by `cpu` (bare's
 * server CPU per request ÷ offloop's: meaningful whatever the generator, and robust to other
 * load on the machine). Both ≤ 1 when offloop costs more; higher is leaner.
 */
export function routingRatio(
  rows: readonly RoutingRow[],
  server: RoutingServer,
  route: string,
  by: 'rate' | 'cpu',
): Repeated {
  const rounds = [...new Set(rows.map((r) => r.round))];
  return repeated(
    rounds.map((round) => {
      const find = (s: RoutingServer) => rows.find((r) => r.server === s && r.route === route && r.round === round);
      const mine = find(server);
      const bare = find('bare-uws');
      return by === 'rate'
        ? ratio(mine?.reqPerSec, bare?.reqPerSec)
        : ratio(bare?.serverCpuUsPerReq, mine?.serverCpuUsPerReq);
    }),
  );
}

export function routingPlan(profile: Profile, baseArgs: readonly string[]) {
  const h = profile.http;
  const rows: RoutingRow[] = [];
  const running = new Map<RoutingServer, { url: string; pid: number; stop: () => Promise<unknown> }>();
  const generator = wrk() ? ('wrk' as const) : ('autocannon' as const);
  const core = lastCore();
  const serverCore = firstCore(); // where the servers run while wrk has `core`
  const steps: Step[] = [];
  const bodies: Record<string, string> = {};

  async function flood(server: RoutingServer, route: (typeof routingRoutes)[number], round: number, durationS: number) {
    const s = running.get(server)!;
    const url = `${s.url}${route.path}`;
    const meter = cpuMeter(s.pid);
    let figures: { reqPerSec: number; ok: number; non2xx: number; errors: number };
    if (generator === 'wrk') {
      const args = ['-t1', `-c${h.routingConnections}`, `-d${wrkSeconds(durationS)}s`, url];
      const [file, argv] = core === undefined ? [wrk()!, args] : ['taskset', ['-c', String(core), wrk()!, ...args]];
      const { stdout } = await execFileP(file, argv, { timeout: (durationS + 30) * 1000 });
      const w = parseWrk(stdout);
      figures = { reqPerSec: w.reqPerSec, ok: w.requests - w.non2xx, non2xx: w.non2xx, errors: w.errors };
    } else {
      const load = await runLoad(
        { ...defaultPlacement, load: { nice: 0, lastCore: true } },
        { url, connections: h.routingConnections, durationS },
      );
      figures = load.figures;
    }
    const cpu = meter();
    return {
      server,
      route: route.name,
      round,
      generator,
      ...figures,
      cpu,
      serverCpuUsPerReq: (cpu.childS * 1e6) / figures.ok,
    };
  }

  steps.push({
    label:
      'http · routing: start offloop (default log level' +
      `${serverFlags().has('--log-level') ? ', and --log-level silent' : ''}) and the bare uWS server; warm all`,
    async run() {
      const start = async (name: RoutingServer, args: string[]) => {
        const p: OffloopProcess = await startOffloop(args);
        running.set(name, { url: p.url, pid: p.pid, stop: () => p.proc.stop() });
      };
      await start('offloop', benchServerArgs(baseArgs));
      if (serverFlags().has('--log-level')) await start('offloop-silent', benchServerArgs(baseArgs, 'silent'));
      const offloop = running.get('offloop')!;
      for (const route of routingRoutes) {
        const reply = await fetch(`${offloop.url}${route.path}`);
        if (reply.status !== 200) throw new Error(`offloop answered ${route.path} with ${reply.status}`);
        bodies[route.path.split('?')[0]!] = await reply.text();
      }
      const { proc, match } = await startNode(
        bareEntry,
        ['0', JSON.stringify(bodies)],
        /listening on (http:\/\/\S+) \(pid (\d+)\)/,
      );
      running.set('bare-uws', { url: match[1]!, pid: Number(match[2]), stop: () => proc.stop() });
      if (core !== undefined) for (const s of running.values()) await pin(s.pid, serverCore);
      // JIT warm-up of every request path, unmeasured.
      for (const name of running.keys())
        for (const route of routingRoutes) await flood(name, route, 0, Math.min(1, h.routingS));
      return (
        `${generator}${core === undefined ? '' : ` on core ${core}, servers on core ${serverCore}`}; ` +
        [...running].map(([name, s]) => `${name} ${s.url} pid ${s.pid}`).join(', ')
      );
    },
  });
  for (let round = 1; round <= h.routingRounds; round++) {
    for (const route of routingRoutes) {
      steps.push({
        label:
          `http · routing ${round}/${h.routingRounds}: GET ${route.path} on each server in turn, ` +
          `${generator} -t1 -c${h.routingConnections} -d${wrkSeconds(h.routingS)}s`,
        async run() {
          // Each round starts with a different server, so a slow spell elsewhere does not always hit the same one.
          const order = [...running.keys()];
          const rotated = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
          const parts: string[] = [];
          for (const name of rotated) {
            const row = await flood(name, route, round, h.routingS);
            rows.push(row);
            parts.push(`${name} ${fmt(row.reqPerSec)} req/s (${fmt(row.serverCpuUsPerReq)} µs CPU)`);
          }
          return parts.join(', ');
        },
      });
    }
  }
  steps.push({
    label: 'http · routing: stop the servers',
    async run() {
      await stopAll();
    },
  });
  async function stopAll() {
    const all = [...running.values()];
    running.clear();
    await Promise.all(all.map((s) => s.stop()));
  }

  return {
    steps,
    result(): RoutingResult {
      const ratios: RoutingResult['ratios'] = {};
      const cpuRatios: RoutingResult['cpuRatios'] = {};
      // With wrk the server is the bottleneck: compare rates. Without, the client is: compare CPU per answer.
      const by = generator === 'wrk' ? 'rate' : 'cpu';
      for (const route of routingRoutes)
        for (const server of servers.filter((s) => s !== 'bare-uws'))
          if (rows.some((r) => r.server === server)) {
            ratios[`${route.name}.${server}`] = routingRatio(rows, server, route.name, by);
            cpuRatios[`${route.name}.${server}`] = routingRatio(rows, server, route.name, 'cpu');
          }
      return {
        generator,
        method:
          generator === 'wrk'
            ? `wrk -t1 -c${h.routingConnections} -d${wrkSeconds(h.routingS)}s` +
              `${core === undefined ? '' : ` pinned to core ${core} (taskset), the servers to core ${serverCore}`}; ` +
              'offloop req/s ÷ bare req/s per round'
            : 'autocannon (wrk not installed): it cannot saturate uWS, so the ratio is ' +
              "bare server CPU µs per request ÷ offloop's",
        rows,
        ratios,
        cpuRatios,
      };
    },
    cleanup: stopAll,
  };
}
