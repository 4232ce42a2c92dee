import { pbkdf2Sync } from 'node:crypto';
import test from 'ava';
import { kernelRoutes } from '../src/engines/kernels.js';
import { js } from '../src/index.js';
import { strategyNames } from '../src/server/strategies.js';
import { rng } from './helpers/random.js';
import { type RunningServer, request, startServer } from './helpers/server.js';

let server: RunningServer;
test.before(async () => {
  server = await startServer();
});
test.after.always(async () => {
  await server?.stop();
});

const octets = { 'content-type': 'application/octet-stream' };
const builtinKernels = ['pbkdf2', 'sleep'];
const applies = (strategy: string, kernel: string) => strategy !== 'builtin' || builtinKernels.includes(kernel);

for (const strategy of strategyNames) {
  test(`GET /primes/${strategy} gives the library's count`, async (t) => {
    if (!applies(strategy, 'primes')) {
      // Node has no primes of its own: 404, naming the strategies that have it.
      const reply = await request(`${server.url}/primes/${strategy}?limit=10`);
      t.is(reply.status, 404);
      t.like(reply.json(), { field: 'strategy', strategies: strategyNames.filter((s) => applies(s, 'primes')) });
      return;
    }
    for (const limit of [0, 2, 1000, 1_000_003]) {
      const reply = await request(`${server.url}/primes/${strategy}?limit=${limit}`);
      t.is(reply.status, 200);
      t.regex(String(reply.headers['content-type']), /application\/json/);
      const body = reply.json<{ kernel: string; strategy: string; result: number; elapsedMs: number }>();
      t.like(body, { kernel: 'primes', strategy, result: js.primesSync(limit) });
      t.true(typeof body.elapsedMs === 'number' && body.elapsedMs >= 0);
    }
  });

  test(`POST /pbkdf2/${strategy} gives node:crypto's key`, async (t) => {
    const input = { password: 'correct horse', salt: 'NaCl', iterations: 2000, keylen: 48 };
    const reply = await request(`${server.url}/pbkdf2/${strategy}`, {
      method: 'POST',
      body: JSON.stringify(input),
      headers: { 'content-type': 'application/json' },
    });
    t.is(reply.status, 200);
    t.like(reply.json(), {
      kernel: 'pbkdf2',
      strategy,
      result: pbkdf2Sync(input.password, input.salt, 2000, 48, 'sha256').toString('hex'),
    });
  });

  test(`POST /blur/${strategy} answers the library's bytes`, async (t) => {
    if (!applies(strategy, 'blur')) {
      const reply = await request(`${server.url}/blur/${strategy}?width=1&height=1`, {
        method: 'POST',
        body: new Uint8Array(4),
        headers: octets,
      });
      t.is(reply.status, 404);
      t.false((reply.json().strategies as string[]).includes('builtin'));
      return;
    }
    const [w, h, radius] = [37, 23, 3];
    const rgba = rng(1).bytes(w * h * 4);
    const reply = await request(`${server.url}/blur/${strategy}?width=${w}&height=${h}&radius=${radius}`, {
      method: 'POST',
      body: rgba,
      headers: octets,
    });
    t.is(reply.status, 200);
    t.is(reply.headers['content-type'], 'application/octet-stream');
    t.is(reply.headers['x-strategy'], strategy);
    t.true(Number(reply.headers['x-elapsed-ms']) >= 0);
    t.deepEqual(reply.body, js.blurSync(rgba, w, h, radius));
  });

  test(`GET /sleep/${strategy} sleeps and answers null`, async (t) => {
    const reply = await request(`${server.url}/sleep/${strategy}?ms=20`);
    t.is(reply.status, 200);
    t.like(reply.json(), { kernel: 'sleep', strategy, result: null });
  });
}

test('a large blur travels whole, under backpressure', async (t) => {
  const [w, h] = [1024, 1024];
  const rgba = rng(2).bytes(w * h * 4);
  const reply = await request(`${server.url}/blur/cpp?width=${w}&height=${h}&radius=2`, {
    method: 'POST',
    body: rgba,
    headers: octets,
  });
  t.is(reply.status, 200);
  t.is(reply.body.length, rgba.length);
  t.true(reply.body.equals(js.blurSync(rgba, w, h, 2))); // equals(): ava's deepEqual is slow on megabytes
});

test('the seed routes answer the pong from the "DB" file', async (t) => {
  for (const route of ['terrible-ping', 'good-ping', 'perfect-ping']) {
    const reply = await request(`${server.url}/${route}?ms=30`);
    t.is(reply.status, 200, route);
    t.deepEqual(reply.json(), { pong: 'pong' }, route);
  }
});

test('/ping, /health and /metrics answer', async (t) => {
  t.deepEqual((await request(`${server.url}/ping`)).json(), { pong: true });
  const health = await request(`${server.url}/health`);
  t.like(health.json(), { status: 'ok', pid: server.child.pid });
  const metrics = await request(`${server.url}/metrics`);
  t.regex(String(metrics.headers['content-type']), /^text\/plain/);
  t.regex(metrics.body.toString(), /# TYPE offloop_http_requests_total counter/);
});

test("GET /kernels is the kernel table's routes, and a request built from each row's defaults is served", async (t) => {
  const rows = (await request(`${server.url}/kernels`)).json<typeof kernelRoutes>();
  t.deepEqual(rows, JSON.parse(JSON.stringify(kernelRoutes)));
  t.deepEqual(
    rows.map((r) => r.kernel),
    ['primes', 'pbkdf2', 'blur', 'sleep'],
  );
  for (const row of rows) {
    // The page's way: the knob's arguments small, the others their defaults or examples.
    const value = (arg: (typeof row.args)[number]) =>
      row.burst.sets.includes(arg.name)
        ? 4
        : 'default' in arg
          ? arg.default
          : 'example' in arg
            ? arg.example
            : undefined;
    const query = row.args
      .filter((a) => a.from === 'query')
      .map((a) => `${a.name}=${value(a)}`)
      .join('&');
    const json = row.args.filter((a) => a.from === 'json');
    const raw = row.args.some((a) => a.from === 'body');
    const init =
      json.length > 0
        ? {
            method: 'POST',
            body: JSON.stringify(Object.fromEntries(json.map((a) => [a.name, value(a)]))),
            headers: { 'content-type': 'application/json' },
          }
        : raw
          ? { method: 'POST', body: new Uint8Array(4 * 4 * 4), headers: octets }
          : { method: row.method.toUpperCase() };
    t.is(init.method.toLowerCase(), row.method, row.kernel);
    const reply = await request(`${server.url}/${row.kernel}/cpp${query && `?${query}`}`, init);
    t.is(reply.status, 200, `${row.kernel}: ${reply.body.toString().slice(0, 200)}`);
  }
});

test('scientific notation is accepted where it is an integer', async (t) => {
  t.like((await request(`${server.url}/primes/rust?limit=1e6`)).json(), { result: 78_498 });
});
