// CPU ns per `metrics.observe` call: prom-client's labelled Counter + Histogram (what observe did
// before) against RequestMetrics, alternated A B A B in one process, median of the rounds.
// Run: npx tsc -p tsconfig.json && node scripts/bench-observe.mjs
import { Counter, Histogram, Registry } from 'prom-client';
import { durationBuckets, RequestMetrics } from '../dist/src/server/request-metrics.js';

const calls = 200_000;
const rounds = 9;
const routes = ['/ping', '/primes/:strategy', '/pbkdf2/:strategy', '/health'];
const strategies = ['', 'cpp', 'worker', 'rust-pool'];
const statuses = [200, 200, 200, 503];

function promClient() {
  const registers = [new Registry()];
  const requests = new Counter({ name: 'r', help: 'h', labelNames: ['route', 'strategy', 'status'], registers });
  const duration = new Histogram({
    name: 'd',
    help: 'h',
    labelNames: ['route', 'strategy'],
    buckets: durationBuckets,
    registers,
  });
  return (route, strategy, status, seconds) => {
    requests.inc({ route, strategy, status: String(status) });
    duration.observe({ route, strategy }, seconds);
  };
}
function ours() {
  const m = new RequestMetrics();
  return (route, strategy, status, seconds) => m.observe(route, strategy, status, seconds);
}

function run(observe) {
  const start = process.cpuUsage();
  for (let i = 0; i < calls; i++)
    observe(routes[i & 3], strategies[(i >> 2) & 3], statuses[(i >> 4) & 3], (i & 255) / 1e4);
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / calls;
}

const variants = { 'prom-client labels': promClient(), RequestMetrics: ours() };
const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
for (let r = 0; r < rounds + 1; r++) {
  for (const [name, observe] of Object.entries(variants)) {
    const ns = run(observe);
    if (r > 0) samples[name].push(ns); // round 0 warms up
  }
}
for (const [name, ns] of Object.entries(samples)) {
  ns.sort((a, b) => a - b);
  console.log(
    `${name.padEnd(20)} median ${ns[rounds >> 1].toFixed(0)} ns/call  ` +
      `(min ${ns[0].toFixed(0)}, max ${ns.at(-1).toFixed(0)}, ${rounds} rounds of ${calls})`,
  );
}
