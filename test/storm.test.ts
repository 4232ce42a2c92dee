import test from 'ava';
import { createServer, type OffloopServer } from '../src/server/app.js';
import { createLogger } from '../src/server/log.js';
import { strategyNames } from '../src/server/strategies.js';
import { rng } from './helpers/random.js';
import { cut } from './helpers/raw.js';
import { eventually, request, sample } from './helpers/server.js';

// ≥ 1000 requests to each off-loop strategy, each cut by the client at a random moment — before
// it is sent in full, while queued, while running, or as the answer arrives. The server must
// not crash, its in-flight and queued counts must return to 0, and its memory must settle.
// The server runs in this process (run with --expose-gc) so its heap can be collected and weighed.
const perStrategy = Number(process.env.OFFLOOP_STORM ?? 1000);
/** Cut requests to each worker route in the seed storm below. */
const perSeedRoute = Number(process.env.OFFLOOP_STORM_SEED ?? 600);
/** The settled-RSS bound this test states: what the storm may leave behind, after GC. */
const settledBoundMiB = 64;

let server: OffloopServer;
/** The access log's lines, counted: every request the storms bring must end in exactly one. */
let accessLines = 0;
const logger = createLogger('info', {
  destination: {
    write(line: string) {
      if (line.includes('"msg":"request"')) accessLines++;
    },
  },
});
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
const gc = () => (globalThis as { gc?: () => void }).gc?.();

test.before(async () => {
  server = await createServer({ port: 0, host: '127.0.0.1', maxQueue: 64, logger });
});
test.after.always(async () => {
  await server?.close();
});

function requestFor(strategy: string, i: number): string {
  const kernels = strategy === 'builtin' ? ['pbkdf2', 'sleep'] : ['primes', 'pbkdf2', 'blur', 'sleep'];
  const head = (line: string, body = '') =>
    `${line} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  switch (kernels[i % kernels.length]) {
    case 'primes':
      return head(`GET /primes/${strategy}?limit=3000000`);
    case 'pbkdf2':
      return head(`POST /pbkdf2/${strategy}`, JSON.stringify({ password: 'pw', salt: `s${i}`, iterations: 20_000 }));
    case 'blur':
      return head(`POST /blur/${strategy}?width=64&height=64&radius=3`, 'x'.repeat(64 * 64 * 4));
    default:
      return head(`GET /sleep/${strategy}?ms=15`);
  }
}

const offLoop = strategyNames.filter((name) => !['blocking', 'cpp-sync', 'rust-sync'].includes(name));

test.serial(`abort storm: ${perStrategy} cut requests to each off-loop strategy`, async (t) => {
  const url = `http://127.0.0.1:${server.port}`;
  gc();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const r = rng(4242);
  for (const strategy of offLoop) {
    for (let sent = 0; sent < perStrategy; sent += 50) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          cut(server.port, requestFor(strategy, sent + i), r.int(0, 40), r.next() < 0.1),
        ),
      );
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    t.is((await request(`${url}/ping`)).status, 200, `after the ${strategy} storm`);
  }
  await eventually(async () => {
    const metrics = (await request(`${url}/metrics`)).body.toString();
    return offLoop.every(
      (s) =>
        sample(metrics, 'offloop_inflight_requests', { strategy: s }) === 0 &&
        sample(metrics, 'offloop_queued_requests', { strategy: s }) === 0,
    );
  });
  t.is(server.inFlight, 0);
  gc();
  await new Promise((resolve) => setTimeout(resolve, 200)); // let native finalizers free external buffers
  gc();
  const settled = process.memoryUsage().rss;
  t.log(
    `${perStrategy * offLoop.length} cut requests over ${offLoop.join(', ')}; ` +
      `RSS baseline ${mib(baseline)} MiB, peak ${mib(peak)} MiB, settled ${mib(settled)} MiB`,
  );
  t.true(
    settled - baseline < settledBoundMiB * 2 ** 20,
    `settled RSS grew by ${mib(settled - baseline)} MiB (bound ${settledBoundMiB} MiB)`,
  );
  // Still serving every strategy correctly.
  for (const strategy of offLoop) {
    const reply = await request(`${url}/sleep/${strategy}?ms=1`);
    t.is(reply.status, 200, strategy);
  }
});

// Clients that send a request for a worker route and close 0–20 ms later, 8 at a time: the
// aborts land while the task waits, as it is handed to a worker, while the worker loads the
// task's module, and while it runs. Before the fix, piscina terminated workers on these aborts
// and one terminated inside require(esm) took the whole process down (SIGABRT).
test.serial(`cut storm: ${perSeedRoute} cut requests each to /good-ping and /sleep/worker, 8 at a time`, async (t) => {
  const url = `http://127.0.0.1:${server.port}`;
  const paths = ['/good-ping?ms=5', '/sleep/worker?ms=1'];
  const r = rng(2020);
  for (let sent = 0; sent < perSeedRoute * paths.length; sent += 8) {
    await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        cut(server.port, `GET ${paths[(sent + i) % 2]} HTTP/1.1\r\nHost: x\r\n\r\n`, r.int(0, 20), false),
      ),
    );
  }
  await eventually(async () => {
    const metrics = (await request(`${url}/metrics`)).body.toString();
    return (
      sample(metrics, 'offloop_inflight_requests', { strategy: 'worker' }) === 0 &&
      sample(metrics, 'offloop_queued_requests', { strategy: 'worker' }) === 0
    );
  });
  t.is(server.inFlight, 0);
  t.like((await request(`${url}/good-ping?ms=1`)).json(), { pong: 'pong' });
  t.is((await request(`${url}/sleep/worker?ms=1`)).status, 200);
});

test.serial(
  'after the storms, every request ended in exactly one access line: as many as the requests counter',
  async (t) => {
    t.is(server.inFlight, 0);
    const metrics = (await request(`http://127.0.0.1:${server.port}/metrics`)).body.toString();
    const counted = [...metrics.matchAll(/^offloop_http_requests_total\{[^}]*\} (\d+)$/gm)].reduce(
      (sum, match) => sum + Number(match[1]),
      0,
    );
    t.true(counted > perSeedRoute, `${counted} requests counted`);
    // The scrape itself is logged once answered; the counter it read did not include it yet.
    t.is(accessLines, counted + 1);
  },
);
