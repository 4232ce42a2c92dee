#!/usr/bin/env node
/**
 * What the routing layer costs per request, measured so that a shared, noisy machine cannot fake
 * it: one process on one core runs this tree's server (its access log toggled between `info`
 * and `silent` at run time), a bare uWebSockets.js app answering the same body, and optionally
 * another build of offloop (BASE=/path/to/a/built/checkout), alternated under `wrk` pinned to
 * the other core. Reports the event-loop thread's CPU µs per request (utime + stime of that
 * thread: it survives contention) and req/s as a ratio to the bare app in the same round.
 *
 *   npm run build:ts && taskset -c 0 node scripts/routing-cost.mjs [ROUTE] [ROUNDS]
 *   e.g. taskset -c 0 node scripts/routing-cost.mjs '/primes/cpp-sync?limit=10' 4
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const here = new URL('..', import.meta.url).pathname;
const route = process.argv[2] ?? '/ping';
const rounds = Number(process.argv[3] ?? 4);
const uWS = createRequire(join(here, 'package.json'))('uWebSockets.js');
const scratch = mkdtempSync(join(tmpdir(), 'offloop-routing-'));
const options = (port) => ({
  port,
  host: '127.0.0.1',
  workers: 1,
  maxLoopShare: 1,
  databaseUrl: `sqlite:${join(scratch, `db-${port}`)}`,
});

const { createLogger, LineBuffer } = await import(join(here, 'dist/src/server/log.js'));
const { createServer } = await import(join(here, 'dist/src/server/app.js'));
// The lines are written, as in production, but to /dev/null: the cost is ours, not the terminal's.
const logger = createLogger('info', { destination: new LineBuffer(openSync('/dev/null', 'w')) });
const servers = [await createServer({ ...options(9031), logger })];
const ports = { 'log-silent': 9031, 'log-info': 9031 };
if (process.env.BASE) {
  const base = await import(join(process.env.BASE, 'dist/src/server/app.js'));
  servers.push(await base.createServer({ ...options(9030), logLevel: 'silent' }));
  ports.base = 9030;
}
const body = await (await fetch(`http://127.0.0.1:9031${route}`)).text();
await new Promise((resolve) =>
  uWS
    .App()
    .get(route.split('?')[0], (res) => {
      res.cork(() => res.writeStatus('200 OK').writeHeader('content-type', 'application/json').end(body));
    })
    .listen('127.0.0.1', 9032, resolve),
);
ports.bare = 9032;

/** CPU ticks (1/100 s) of this process's main thread, the event loop. */
function loopTicks() {
  const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

function wrk(port) {
  return new Promise((resolve) => {
    const url = `http://127.0.0.1:${port}${route}`;
    const child = spawn('taskset', ['-c', '1', 'wrk', '-t1', '-c32', '-d3s', url]);
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.on('exit', () => resolve(out));
  });
}

const results = {};
for (let round = 0; round < rounds; round++) {
  for (const [variant, port] of Object.entries(ports)) {
    if (variant.startsWith('log-')) logger.level = variant.slice(4);
    const before = loopTicks();
    const out = await wrk(port);
    const ticks = loopTicks() - before;
    const requests = Number(/(\d+) requests in/.exec(out)[1]);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
    if (/Non-2xx/.test(out)) throw new Error(`${variant}: some answers were not 2xx:\n${out}`);
    results[variant] ??= [];
    results[variant].push({ rps, us: (ticks * 10_000) / requests });
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const spread = (values) => `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`;
console.log(`${route}: ${rounds} rounds, variants alternated; loop-thread CPU per request, req/s ÷ bare uWS's`);
for (const [variant, runs] of Object.entries(results)) {
  const us = runs.map((r) => r.us);
  const ratios = runs.map((r, i) => r.rps / results.bare[i].rps);
  console.log(
    `  ${variant.padEnd(11)} ${median(us).toFixed(2).padStart(6)} µs/request (${spread(us)})` +
      `   ${median(ratios).toFixed(2)} of bare req/s (${spread(ratios)})`,
  );
}
for (const server of servers) await server.close();
rmSync(scratch, { recursive: true, force: true });
process.exit(0);
