import test from 'ava';
import { eventually, type RunningServer, request, sample, startServer } from './helpers/server.js';

// 10× the configured bound of concurrent requests: the excess is refused at once, the accepted
// ones complete, memory stays bounded, and afterwards /ping is as quick as it was before.
const maxInFlight = 2;
const maxQueue = 2;
const bound = maxInFlight + maxQueue;

let server: RunningServer;
test.before(async () => {
  server = await startServer(['--max-inflight', String(maxInFlight), '--max-queue', String(maxQueue)]);
});
test.after.always(async () => {
  await server?.stop();
});

async function pingMedian(n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    await request(`${server.url}/ping`);
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[n >> 1]!;
}

const rss = async () =>
  sample((await request(`${server.url}/metrics`)).body.toString(), 'process_resident_memory_bytes')!;

for (const strategy of ['cpp', 'rust', 'worker', 'cpp-pool', 'rust-pool']) {
  test.serial(`${strategy}: 10× the bound at once → the excess gets 503 first, the accepted complete`, async (t) => {
    const idle = await pingMedian(30);
    const before = await rss();
    const order: number[] = [];
    const send = () =>
      request(`${server.url}/sleep/${strategy}?ms=2000`).then((r) => {
        order.push(r.status);
        return r;
      });
    // The bound's worth first, seen running and queued by the server; then the excess, which must
    // all be refused while those still run (2 s: far longer than refusing 36 takes).
    const accepted = Array.from({ length: bound }, send);
    await eventually(async () => {
      const metrics = (await request(`${server.url}/metrics`)).body.toString();
      return (
        sample(metrics, 'offloop_inflight_requests', { strategy }) === maxInFlight &&
        sample(metrics, 'offloop_queued_requests', { strategy }) === maxQueue
      );
    });
    const replies = await Promise.all([...accepted, ...Array.from({ length: 9 * bound }, send)]);
    const ok = replies.filter((r) => r.status === 200);
    const refused = replies.filter((r) => r.status === 503);
    t.is(ok.length, bound);
    t.is(refused.length, 9 * bound);
    t.true(refused.every((r) => r.headers['retry-after'] === '1'));
    // "At once": every refusal came back before the first accepted request finished.
    t.deepEqual(order, [...Array(9 * bound).fill(503), ...Array(bound).fill(200)]);
    const after = await rss();
    t.true(after - before < 32 * 2 ** 20, `RSS grew ${Math.round((after - before) / 2 ** 20)} MiB`);
    const recovered = await pingMedian(30);
    t.log(`ping median idle ${idle.toFixed(2)} ms, after the burst ${recovered.toFixed(2)} ms`);
    // Back to its idle level: a generous ratio, both measured here, side by side.
    t.true(recovered <= 5 * idle + 1, `ping median ${recovered.toFixed(2)} ms after vs ${idle.toFixed(2)} ms idle`);
    const metrics = (await request(`${server.url}/metrics`)).body.toString();
    t.is(sample(metrics, 'offloop_inflight_requests', { strategy }), 0);
    t.is(sample(metrics, 'offloop_queued_requests', { strategy }), 0);
  });
}
