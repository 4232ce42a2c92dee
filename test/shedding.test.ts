import test from 'ava';
import { LoopMonitor } from '../src/server/loop-monitor.js';
import { Pressure } from '../src/server/pressure.js';
import { eventually, request, sample, startServer } from './helpers/server.js';

const off = { maxLoopDelay: 0, maxLoopUtilization: 0, maxHeapMb: 0, maxRssMb: 0 };

/** Holds this thread for `ms`: the stall under test, not a measurement. */
function stall(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

test('Pressure: a loop blocked now is seen before any tick runs; it recovers once ticks are on time', async (t) => {
  const monitor = new LoopMonitor(5);
  const pressure = new Pressure({ ...off, maxLoopDelay: 50 }, monitor, 20);
  t.teardown(() => monitor.stop());
  await eventually(async () => pressure.overload() === undefined);
  stall(150);
  const shed = pressure.shed();
  t.is(shed?.status, 503);
  t.is(shed?.options.headers?.['retry-after'], '1');
  t.like(shed?.options.extra, { limit: '--max-loop-delay', max: 50 });
  t.true((shed?.options.extra?.observed as number) > 50);
  t.is(pressure.shedCounts.get('loop_delay'), 1);
  t.like(pressure.notReady(), { reason: 'overloaded' });
  await eventually(async () => pressure.notReady() === undefined);
  t.is(pressure.shed(), undefined);
  pressure.drain();
  t.deepEqual(pressure.notReady(), { reason: 'draining' });
});

test('Pressure: every limit at 0 is off: a stalled loop sheds nothing', (t) => {
  const monitor = new LoopMonitor(5);
  t.teardown(() => monitor.stop());
  const pressure = new Pressure(off, monitor, 20);
  stall(60);
  t.is(pressure.shed(), undefined);
  t.is(pressure.notReady(), undefined);
});

test('Pressure: a heap limit below what is in use sheds, naming --max-heap-mb', async (t) => {
  const monitor = new LoopMonitor(5);
  t.teardown(() => monitor.stop());
  const pressure = new Pressure({ ...off, maxHeapMb: 1 }, monitor, 10);
  await eventually(async () => pressure.overload() !== undefined);
  t.like(pressure.shed()?.options.extra, { limit: '--max-heap-mb', max: 1 });
  t.is(pressure.shedCounts.get('heap'), 1);
});

test('the server sheds new work past --max-loop-delay while probes answer, and recovers', async (t) => {
  // A limit far above what a busy machine's scheduling adds, far below the stall.
  const server = await startServer(['--max-loop-delay', '500']);
  t.teardown(() => server.stop());
  const get = (path: string) => request(`${server.url}${path}`);
  await eventually(async () => (await get('/ready')).status === 200);
  // The stall: a 2.5 s sleep on the loop. Requests that arrive while it holds the loop are handled
  // after it, when the loop's delay is 2.5 s: new work is shed then, probes still answer.
  const blocking = get('/sleep/blocking?ms=2500');
  let shed: Awaited<ReturnType<typeof get>> | undefined;
  let probes: Awaited<ReturnType<typeof get>>[] = [];
  await eventually(async () => {
    const [work, ...rest] = await Promise.all(['/primes/cpp?limit=10', '/ping', '/health', '/'].map(get));
    if (work!.status === 200) return false;
    shed = work;
    probes = rest;
    return true;
  }, 10);
  t.is(shed!.status, 503, shed!.body.toString());
  t.is(shed!.headers['retry-after'], '1');
  t.like(shed!.json(), { limit: '--max-loop-delay', max: 500 });
  t.true(shed!.json<{ observed: number }>().observed > 500);
  t.regex(shed!.json<{ error: string }>().error, /overloaded/);
  t.deepEqual(
    probes.map((r) => r.status),
    [200, 200, 200],
    '/ping, /health and static files answer',
  );
  t.is((await blocking).status, 200);
  // Recovered: once a sample shows the loop on time again, /ready says so and work runs.
  await eventually(async () => (await get('/ready')).status === 200);
  t.is((await get('/primes/cpp?limit=10')).status, 200);
  const metrics = (await get('/metrics')).body.toString();
  t.true(sample(metrics, 'offloop_shed_requests_total', { reason: 'loop_delay' })! >= 1);
  t.true(sample(metrics, 'offloop_http_requests_total', { route: '/primes/:strategy', status: '503' })! >= 1);
});

test('the server with the default limits sheds nothing: a 2 s stall delays work, never refuses it', async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const get = (path: string) => request(`${server.url}${path}`);
  const blocking = get('/sleep/blocking?ms=1500');
  const during = await Promise.all(Array.from({ length: 20 }, () => get('/primes/cpp?limit=10')));
  t.deepEqual(
    during.map((r) => r.status),
    Array(20).fill(200),
  );
  t.is((await blocking).status, 200);
  t.is(sample((await get('/metrics')).body.toString(), 'offloop_shed_requests_total', { reason: 'loop_delay' }), 0);
});

test('a server past --max-rss-mb is not ready and sheds work; probes, metrics and the page still answer', async (t) => {
  const server = await startServer(['--max-rss-mb', '1']); // any process is past 1 MiB
  t.teardown(() => server.stop());
  const get = (path: string) => request(`${server.url}${path}`);
  await eventually(async () => (await get('/ready')).status === 503);
  t.like((await get('/ready')).json(), { ready: false, reason: 'overloaded', limit: '--max-rss-mb', max: 1 });
  for (const work of [
    '/primes/blocking?limit=10',
    '/primes/cpp?limit=10',
    '/sleep/worker?ms=1',
    '/perfect-ping?ms=1',
  ]) {
    const reply = await get(work);
    t.is(reply.status, 503, work);
    t.like(reply.json(), { limit: '--max-rss-mb', max: 1 }, work);
  }
  for (const always of ['/ping', '/health', '/metrics', '/stats.json', '/strategies', '/kernels', '/']) {
    t.is((await get(always)).status, 200, always);
  }
  const metrics = (await get('/metrics')).body.toString();
  t.is(sample(metrics, 'offloop_shed_requests_total', { reason: 'rss' }), 4);
  t.is(sample(metrics, 'offloop_ready', { pid: String(server.pids[0]) }), 0);
});
