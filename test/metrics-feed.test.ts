import test from 'ava';
import type { Stats } from '../src/server/metrics.js';
import { eventually, request, sample, startServer } from './helpers/server.js';

test("reading the page's feed does not reset what /metrics reports for its window", async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const feed = async () => (await request(`${server.url}/stats.json`)).json<Stats>();
  await request(`${server.url}/metrics`); // Prometheus's window starts here
  t.is((await request(`${server.url}/sleep/blocking?ms=400`)).status, 200); // the loop is held 400 ms
  // A 5 ms timer is late by at least the stall less its period: 395 ms.
  const late = 390;
  // The feed sees the stall in its own whole-second windows, read as often as one likes.
  let seen = 0;
  await eventually(async () => {
    seen = Math.max(seen, ...(await feed()).recent.map((w) => w.delayMaxMs));
    return seen >= late;
  });
  for (let i = 0; i < 5; i++) await feed();
  const text = (await request(`${server.url}/metrics`)).body.toString();
  const max = sample(text, 'offloop_event_loop_delay_max_seconds', { pid: String(server.pids[0]) })!;
  t.true(max >= late / 1000, `Prometheus's window still holds the 400 ms stall (max ${max} s)`);
  t.true(sample(text, 'offloop_event_loop_utilization_ratio', { pid: String(server.pids[0]) })! > 0);
});

test('the feed has what the page draws: the loop by whole seconds, in-flight and queued by strategy', async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  await eventually(async () => (await request(`${server.url}/stats.json`)).json<Stats>().recent.length >= 2);
  const stats = (await request(`${server.url}/stats.json`)).json<Stats>();
  t.is(stats.pid, server.pids[0]!);
  t.true(stats.ready);
  const seqs = stats.recent.map((w) => w.seq);
  t.deepEqual(
    seqs,
    [...seqs].sort((a, b) => a - b),
    'oldest first',
  );
  for (const w of stats.recent) {
    t.true(w.delayP50Ms <= w.delayP99Ms && w.delayP99Ms <= w.delayMaxMs);
    t.true(w.utilization >= 0 && w.utilization <= 1);
  }
  t.deepEqual(Object.keys(stats.inflight).sort(), ['builtin', 'cpp', 'cpp-pool', 'rust', 'rust-pool', 'worker']);
  t.deepEqual(Object.keys(stats.queued).sort(), Object.keys(stats.inflight).sort());
});
