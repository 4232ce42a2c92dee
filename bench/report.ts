import { cpuKernelNames } from '../src/engines/kernels.js';
import type { Machine } from './machine.js';
import { type HttpResult, headlineRatio, type KernelsResult, type LoadRows, type Parts } from './results.js';
import { fmt, type Repeated, ratio } from './stats.js';
import { flatten, type Summary } from './summary.js';

/** bench/results/README.md: the tables, generated from the JSON files beside it. */

const table = (header: string[], rows: Array<Array<string | number>>): string =>
  [
    `| ${header.join(' | ')} |`,
    `| ${header.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.map((c) => (typeof c === 'number' ? fmt(c) : c)).join(' | ')} |`),
  ].join('\n');

const machineLine = (m: Machine, profile: string, durationS: number) =>
  `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node} (V8 ${m.v8}); ` +
  `harness libuv pool ${m.libuvPoolSize}; load average ${m.loadAverage} before, ` +
  `${m.loadAverageEnd ?? '?'} after (with this run's own load); ${profile} run of ${fmt(durationS)} s at ${m.date}`;

const cores = (cpuS: number, wallS: number) => fmt(cpuS / wallS, 2);

function kernelSection(k: KernelsResult): string {
  const ops = (kernel: string, engine: string) => k.kernels.find((r) => r.kernel === kernel && r.engine === engine);
  const kernelRows = cpuKernelNames.map((kernel) => {
    const [j, c, r] = (['js', 'cpp', 'rust'] as const).map((e) => ops(kernel, e));
    return [
      kernel,
      fmt(j?.meanMs),
      fmt(c?.meanMs),
      fmt(r?.meanMs),
      `${fmt(ratio(c?.opsPerSec, j?.opsPerSec))}×`,
      `${fmt(ratio(r?.opsPerSec, j?.opsPerSec))}×`,
    ];
  });
  const openssl = k.openssl.find((r) => r.name === 'crypto.pbkdf2Sync');
  const opensslAsync = k.openssl.find((r) => r.name === 'crypto.pbkdf2');
  const sslRows = [
    ...(['js', 'cpp', 'rust'] as const).map((e) => {
      const row = ops('pbkdf2', e);
      return [`${e}.pbkdf2Sync`, fmt(row?.meanMs), `${fmt(ratio(row?.opsPerSec, openssl?.opsPerSec))}×`, ''];
    }),
    ...k.openssl.map((r) => [
      r.name,
      fmt(r.meanMs),
      `${fmt(ratio(r.opsPerSec, openssl?.opsPerSec))}×`,
      r.form === 'async' ? `${fmt(ratio(r.opsPerSec, opensslAsync?.opsPerSec))}×` : '',
    ]),
  ];
  const piscina = k.dispatch.find((r) => r.name === 'workers');
  const one = (engine: string) => k.scaling.find((r) => r.engine === engine && r.inFlight === 1)?.opsPerSec;
  const inFlight = [...new Set(k.scaling.map((r) => r.inFlight))].sort((a, b) => a - b);
  const engines = [...new Set(k.scaling.map((r) => r.engine))];
  const { primesLimit, pbkdf2, blur, scalingPrimesLimit, workerThreads } = k.inputs;
  return [
    '## Kernels',
    '',
    machineLine(k.machine, k.profile, k.durationS) +
      `. SHA-256 backend: cpp ${k.shaBackend.cpp}, rust ${k.shaBackend.rust}.`,
    '',
    'Sync forms on the same inputs, timed by tinybench one call at a time ' +
      'with a turn of the event loop between calls: ' +
      `primes(${primesLimit}), pbkdf2 (${pbkdf2.iterations} iterations, keylen ${pbkdf2.keylen}), ` +
      `blur ${blur.width}×${blur.height} radius ${blur.radius}.`,
    '',
    '![Kernel speed-ups](speedups.svg)',
    '',
    table(['kernel', 'js ms', 'cpp ms', 'rust ms', 'cpp speed-up', 'rust speed-up'], kernelRows),
    '',
    '### pbkdf2 against OpenSSL (node:crypto)',
    '',
    table(['call', 'ms per call', '÷ crypto.pbkdf2Sync', '÷ crypto.pbkdf2 (async)'], sslRows),
    '',
    '### Dispatch cost',
    '',
    'Round trip of a task that does nothing, one in flight: what leaving the event loop costs before any work is done.',
    '',
    '![Dispatch cost](dispatch.svg)',
    '',
    table(
      ['mechanism', 'median µs', 'mean µs', 'p99 µs', '÷ piscina (median)'],
      k.dispatch.map((r) => [
        `${r.name}: ${r.what}`,
        r.p50Ms * 1000,
        r.meanMs * 1000,
        r.p99Ms * 1000,
        `${fmt(ratio(r.p50Ms, piscina?.p50Ms))}×`,
      ]),
    ),
    ...(k.dispatchOneCore
      ? [
          '',
          'The same round trips in a child process pinned to one core (`taskset`): every handoff a plain ' +
            'context switch, without the cross-core wake-ups that the table above includes (on a virtual ' +
            "machine, tens of µs each): the mechanisms' own cost.",
          '',
          table(
            ['mechanism', 'median µs', '÷ piscina (median of rounds)'],
            k.dispatchOneCore.map((r) => [r.name, r.p50Ms * 1000, `${fmt(r.rounds?.ratioWall.p50)}×`]),
          ),
        ]
      : []),
    '',
    '### Scaling',
    '',
    `Async primes(${scalingPrimesLimit}) with k tasks kept in flight; ops/s over the wall time of the window. ` +
      `libuv pool: ${k.machine.libuvPoolSize} threads; piscina: ${workerThreads} threads; ${k.machine.cores} cores.`,
    '',
    '![Scaling](scaling.svg)',
    '',
    table(
      [
        'engine',
        ...inFlight.map((n) => `${n} in flight: ops/s (cores used)`),
        ...inFlight.slice(1).map((n) => `${n} ÷ 1`),
      ],
      engines.map((e) => {
        const rows = inFlight.map((n) => k.scaling.find((r) => r.engine === e && r.inFlight === n));
        return [
          e,
          ...rows.map((r) => `${fmt(r?.opsPerSec)} (${fmt(r?.cpuCores, 2)})`),
          ...rows.slice(1).map((r) => `${fmt(ratio(r?.opsPerSec, one(e)))}×`),
        ];
      }),
    ),
    '',
    "Cores used is this process's CPU time ÷ wall time in the window: " +
      'when it stays below min(k, cores) while the machine has idle cores, the engine does not scale; ' +
      'when the machine is busy, other processes took the CPU.',
  ].join('\n');
}

const floorName = '(floor: SCHED_IDLE spinners, no request)';
const floorPolicy = (floor: LoadRows) => floor.runs[0]?.helpers?.load ?? 'not recorded';

function httpSection(h: HttpResult): string {
  const s = h.settings;
  // Results written before the runs' pings were pooled hold the median of the runs' ratios.
  const pooled = h.heavy.some((r) => r.pooled);
  const spread = (headline: number, r: Repeated, runs: number) =>
    runs > 1 ? `${fmt(headline)}× (${fmt(r.min)}–${fmt(r.max)})` : `${fmt(headline)}×`;
  const loadRow = (name: string, kernelMs: number | undefined, r: LoadRows) => [
    name,
    kernelMs === undefined ? '' : fmt(kernelMs),
    r.load.reqPerSec,
    r.load.non2xx + r.load.errors,
    r.ping.p50,
    `${fmt(r.idle.p99)} → ${fmt(r.ping.p99)}`,
    `${fmt(r.idle.p999)} → ${fmt(r.ping.p999)}`,
    spread(headlineRatio(r, 'p99'), r.pingP99Ratio, r.runs.length),
    spread(headlineRatio(r, 'p999'), r.pingP999Ratio, r.runs.length),
    `${fmt(r.runs[0]?.loopWait.idle.usPerRun)} → ${fmt(r.loopWaitUs.median)}`,
    cores(r.cpu.childS, r.cpu.wallS),
    cores(r.cpu.harnessS, r.cpu.wallS),
  ];
  const loadHeader = [
    '',
    'kernel ms',
    'heavy req/s',
    'non-2xx + errors',
    'ping p50 ms',
    'ping p99 ms (idle → loaded)',
    'ping p99.9 ms (idle → loaded)',
    pooled ? 'p99 ÷ idle, runs pooled (runs: min–max)' : 'p99 ÷ idle, median (min–max)',
    pooled ? 'p99.9 ÷ idle, runs pooled (runs: min–max)' : 'p99.9 ÷ idle, median (min–max)',
    "loop's wait for a CPU, µs a run (idle → loaded)",
    'server cores',
    'harness cores',
  ];
  const routes = [...new Set(h.heavy.map((r) => r.route))];
  return [
    '## HTTP',
    '',
    `${machineLine(h.machine, h.profile, h.durationS)}.`,
    '',
    `Server: \`node dist/src/main.js ${h.server.args.join(' ')}\` ` +
      `(libuv pool ${h.server.libuvThreads}, worker pool ${h.server.workers}). ` +
      `Each heavy route is driven by autocannon with ${s.connections} connections for ${s.loadS} s ` +
      `while a probe sends GET /ping every ${s.probeIntervalMs} ms ` +
      'on its own keep-alive connection ' +
      '(pipelined on schedule, so a stalled server cannot slow the probe down and hide its stalls), ' +
      `right after ${s.idleS} s of the probe alone: the idle baseline of that run. ` +
      `The primary route of a strategy that blocks the loop runs ${s.repeats} times, ` +
      `of one that keeps its work off the loop ${s.offLoopRepeats} times. ` +
      (pooled
        ? 'The ping columns and ratios take every run’s pings together (p99 of all loaded pings ÷ p99 of all ' +
          'idle pings); in brackets, the min–max of the runs’ own ratios, which the pooled figure need not lie ' +
          'within; summary.json’s `spread` holds each pooled ratio’s bootstrap interval instead (its 5th–95th ' +
          'percentile over 200 resamplings of the runs): how far another invocation could read from sampling ' +
          'alone. req/s and CPU are the median run’s. '
        : 'The table shows the run with the median ratio, the ratio columns the median and the spread (min–max) ' +
          'over the runs. ') +
      `With ${(s.loadS * 1000) / s.probeIntervalMs} pings a run, a run's p99.9 is set by its ` +
      `${Math.max(1, Math.round((s.loadS * 1000) / s.probeIntervalMs / 1000))} slowest.`,
    '',
    `**${h.note}**`,
    '',
    `First idle ping (same server, before any load): p50 ${fmt(h.idlePing.p50)} ms, ` +
      `p99 ${fmt(h.idlePing.p99)} ms, p99.9 ${fmt(h.idlePing.p999)} ms, max ${fmt(h.idlePing.max)} ms ` +
      `(n=${h.idlePing.n}).`,
    '',
    '![Ping latency by strategy](ping-latency.svg)',
    '',
    ...routes.flatMap((route, i) => {
      // The floor goes with the first route's table: it has no route of its own.
      const floor = i === 0 ? h.floor : undefined;
      return [
        route === 'primes'
          ? `### GET /primes/:strategy?limit=${s.primesLimit}`
          : `### POST /pbkdf2/:strategy (${s.pbkdf2Iterations} iterations)`,
        '',
        table(
          ['strategy', ...loadHeader.slice(1)],
          [
            ...h.heavy.filter((r) => r.route === route).map((r) => loadRow(r.strategy, r.kernelMs, r)),
            ...(floor ? [loadRow(floorName, undefined, floor)] : []),
          ],
        ),
        '',
        ...(floor
          ? [
              `*${floorName}*: the same runs with every core kept busy by a thread that only burns CPU under ` +
                `SCHED_IDLE (in a harness process; its threads lowered to: ${floorPolicy(floor)}; their CPU is ` +
                'the harness cores) and no request at all: about the best ping tail a strategy off the loop could ' +
                'show on this machine at this hour (not a bound: a strategy can read under it). What a strategy ' +
                'reads above it is its own; when it moves between invocations, the machine moved.',
              '',
            ]
          : []),
      ];
    }),
    `### Seed routes (?ms=${s.seedMs}) under the same load`,
    '',
    table(
      ['route', ...loadHeader.slice(2)],
      h.seed.map((r) => loadRow(r.path, undefined, r).filter((_, i) => i !== 1)),
    ),
    '',
    '### Routing overhead',
    '',
    `offloop against a bare uWS server that answers the same bytes (bench/bare-uws.ts), taking turns: ` +
      `${h.routing.method}. ` +
      '"offloop" runs at the default log level (its access log to /dev/null), ' +
      '"offloop-silent" with --log-level silent.',
    '',
    table(
      ['route.server ÷ bare', 'as the method says: median (min–max)', 'by server CPU per request: median (min–max)'],
      Object.entries(h.routing.ratios).map(([key, r]) => {
        const c = h.routing.cpuRatios?.[key];
        return [
          key,
          `${fmt(r.median)} (${fmt(r.min)}–${fmt(r.max)})`,
          `${fmt(c?.median)} (${fmt(c?.min)}–${fmt(c?.max)})`,
        ];
      }),
    ),
    '',
    table(
      ['server', 'route', 'round', 'req/s', 'non-2xx + errors', 'server µs CPU / request', 'server cores'],
      h.routing.rows.map((r) => [
        r.server,
        r.route,
        r.round,
        r.reqPerSec,
        r.non2xx + r.errors,
        r.serverCpuUsPerReq,
        cores(r.cpu.childS, r.cpu.wallS),
      ]),
    ),
    '',
    '### libuv pool starvation',
    '',
    'fs.promises.readFile of a 1 KB file, one started every few ms (open loop), ' +
      'in a child process with the addons loaded: ' +
      "idle, then while a strategy keeps twice its pool's threads busy with jobs. " +
      "readFile is four requests on libuv's pool, so jobs there make every read wait.",
    '',
    '![Starvation](starvation.svg)',
    '',
    table(
      [
        'strategy',
        'pool',
        'jobs in flight',
        'jobs/s',
        'idle p50 ms',
        'idle p99 ms',
        'full p50 ms',
        'full p99 ms',
        'p99 ÷ idle',
      ],
      h.starvation.map((r) => [
        `${r.strategy} (${r.kernel})`,
        r.pool,
        r.jobsInFlight,
        r.jobsPerSec,
        r.idle.p50,
        r.idle.p99,
        r.loaded.p50,
        r.loaded.p99,
        `${fmt(r.ratio)}×`,
      ]),
    ),
  ].join('\n');
}

export function renderReadme(parts: Parts, summary: Summary): string {
  return [
    '# offloop benchmark results',
    '',
    '<!-- Generated by `npm run bench` (bench/report.ts) from the JSON files in this folder: ' +
      'edit the generator, not this file. -->',
    '',
    'Raw figures: `kernels.json`, `http.json`; the named ratios: `summary.json`. ' +
      'Rerun with `npm run bench` (everything), ',
    "`npm run bench:kernels` or `npm run bench:http` (one part; the other part's last figures are kept), " +
      '`-- --quick` for a smoke run.',
    '',
    '## Summary',
    '',
    table(
      ['ratio', 'value'],
      flatten(summary).map(([k, v]) => [`\`${k}\``, fmt(v)]),
    ),
    '',
    parts.kernels ? kernelSection(parts.kernels) : '## Kernels\n\nNot run yet: `npm run bench:kernels`.',
    '',
    parts.http ? httpSection(parts.http) : '## HTTP\n\nNot run yet: `npm run bench:http`.',
    '',
  ].join('\n');
}
