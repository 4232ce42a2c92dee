import test from 'ava';
import { strategyNames } from '../src/server/strategies.js';
import { raw } from './helpers/raw.js';
import { eventually, type Reply, type RunningServer, request, sample, startServer } from './helpers/server.js';

let server: RunningServer;
test.before(async () => {
  // The timeout only needs to be met by the short requests that queue behind a held slot below.
  server = await startServer(['--body-limit', '1024', '--max-inflight', '1', '--max-queue', '1', '--timeout', '5000']);
});
test.after.always(async () => {
  await server?.stop();
});

const json = { 'content-type': 'application/json' };
const octets = { 'content-type': 'application/octet-stream' };
const post = (path: string, body: string | Uint8Array, headers: Record<string, string> = json) =>
  request(`${server.url}${path}`, { method: 'POST', body, headers });

// The strategies cpp, rust and builtin share libuv's pool and so one gate of 1 + 1: the tests
// that use them run one at a time.

test.serial('400: a bad parameter or body names its field', async (t) => {
  const cases: [Promise<Awaited<ReturnType<typeof request>>>, string][] = [
    [request(`${server.url}/primes/cpp?limit=abc`), 'limit'],
    [request(`${server.url}/primes/cpp?limit=-1`), 'limit'],
    [request(`${server.url}/primes/cpp?limit=1.5`), 'limit'],
    [request(`${server.url}/primes/cpp?limit=99999999999`), 'limit'],
    [request(`${server.url}/sleep/rust?ms=60001`), 'ms'],
    [request(`${server.url}/terrible-ping?ms=x`), 'ms'],
    [post('/pbkdf2/cpp', '{"password":"pw"'), 'body'],
    [post('/pbkdf2/cpp', '[1,2]'), 'body'],
    [post('/pbkdf2/cpp', '{"salt":"s"}'), 'password'],
    [post('/pbkdf2/cpp', '{"password":"p","salt":7}'), 'salt'],
    [post('/pbkdf2/rust', '{"password":"p","salt":"s","iterations":"many"}'), 'iterations'],
    [post('/pbkdf2/worker', '{"password":"p","salt":"s","keylen":2048}'), 'keylen'],
    [post('/blur/cpp?height=1', new Uint8Array(4), octets), 'width'],
    [post('/blur/cpp?width=2&height=2', new Uint8Array(4), octets), 'rgba'],
    [post('/blur/cpp?width=1&height=1&radius=65536', new Uint8Array(4), octets), 'radius'],
  ];
  for (const [pending, field] of cases) {
    const reply = await pending;
    t.is(reply.status, 400, field);
    t.regex(String(reply.headers['content-type']), /application\/json/);
    const body = reply.json<{ error: string; field: string }>();
    t.is(body.field, field);
    t.true(body.error.length > 0);
  }
});

test.serial('404: unknown routes, unknown or inapplicable strategies, with the valid ones listed', async (t) => {
  const route = await request(`${server.url}/nowhere`);
  t.is(route.status, 404);
  t.true(Array.isArray(route.json().routes));
  const strategy = await request(`${server.url}/primes/gpu?limit=10`);
  t.is(strategy.status, 404);
  t.like(strategy.json(), { field: 'strategy' });
  t.deepEqual(
    strategy.json().strategies,
    strategyNames.filter((s) => s !== 'builtin'),
  );
  const inapplicable = await request(`${server.url}/primes/builtin?limit=10`);
  t.is(inapplicable.status, 404);
  t.like(inapplicable.json(), { field: 'strategy' });
  t.false(inapplicable.json<{ strategies: string[] }>().strategies.includes('builtin'));
  t.true((await request(`${server.url}/sleep/builtin?ms=1`)).status === 200);
});

test('405: a known path with the wrong method says which methods it allows', async (t) => {
  const ping = await post('/ping', '');
  t.is(ping.status, 405);
  t.is(ping.headers.allow, 'GET');
  const pbkdf2 = await request(`${server.url}/pbkdf2/cpp`);
  t.is(pbkdf2.status, 405);
  t.is(pbkdf2.headers.allow, 'POST');
});

test.serial('413: a body over the limit is refused, declared or streamed', async (t) => {
  const declared = await post('/pbkdf2/cpp', 'x'.repeat(2048));
  t.is(declared.status, 413);
  t.like(declared.json(), { field: 'body' });
  // Node's client said `Connection: close` itself, so uWS rightly does not repeat it (and we add
  // no second one: body-limits › "a refusal that closes ..." reads the raw header block).
  // Chunked, with no Content-Length: refused once the limit is crossed.
  // Sent in one write: had the server closed while bytes of ours were still unread, its kernel
  // would reset the connection and could drop the 413 before we read it.
  const streamed = await raw(
    server.port,
    [
      [
        'POST /blur/cpp?width=16&height=16 HTTP/1.1\r\nHost: x\r\n' +
          'Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n',
        ...Array.from({ length: 4 }, () => `400\r\n${'a'.repeat(0x400)}\r\n`),
      ].join(''),
    ],
    { quietMs: 60_000, waitMs: 60_000 }, // ends at the close: only bounds for a hang
  );
  t.true(streamed.closed);
  t.deepEqual(streamed.statuses, [413]);
});

/**
 * The replies to `others`, sent once `holder` holds the slot of `strategy`'s gate (1 running +
 * 1 queued), with the holder's. It sleeps 2.5 s: far longer than sending the others takes.
 */
async function whileHeld(strategy: string, others: string[]): Promise<{ holder: Reply; others: Reply[] }> {
  const holder = request(`${server.url}/sleep/${strategy}?ms=2500`);
  await eventually(
    async () =>
      sample((await request(`${server.url}/metrics`)).body.toString(), 'offloop_inflight_requests', { strategy }) === 1,
  );
  const replies = await Promise.all(others.map((path) => request(`${server.url}${path}`)));
  return { holder: await holder, others: replies };
}

test.serial('503: past the in-flight and queue bound, refused at once with Retry-After', async (t) => {
  const { holder, others } = await whileHeld('cpp', ['/sleep/cpp?ms=1', '/sleep/cpp?ms=1']);
  t.is(holder.status, 200);
  t.deepEqual(others.map((r) => r.status).sort(), [200, 503]);
  const refused = others.find((r) => r.status === 503)!;
  t.is(refused.headers['retry-after'], '1');
  t.like(refused.json(), { strategy: 'cpp', pool: 'libuv' });
});

test.serial('503: cpp, rust and builtin share one gate: the pool of libuv threads they all run on', async (t) => {
  const shared = await whileHeld('cpp', ['/sleep/rust?ms=1', '/sleep/builtin?ms=1']);
  t.deepEqual([shared.holder, ...shared.others].map((r) => r.status).sort(), [200, 200, 503]);
  t.like(shared.others.find((r) => r.status === 503)!.json(), { pool: 'libuv' });
  // The other pools have gates of their own: a worker request is not refused meanwhile.
  const own = await whileHeld('cpp', ['/sleep/worker?ms=1']);
  t.deepEqual(
    [own.holder, ...own.others].map((r) => r.status),
    [200, 200],
  );
});

test.serial('504: past the timeout, answered 504 and the work cancelled', async (t) => {
  const reply = await request(`${server.url}/sleep/rust?ms=20000`);
  t.is(reply.status, 504);
  t.like(reply.json(), { cancelled: true });
  // Cancelled, not left running: the strategy's single slot is free again long before 20 s.
  const next = await request(`${server.url}/sleep/rust?ms=1`);
  t.is(next.status, 200);
  const metrics = (await request(`${server.url}/metrics`)).body.toString();
  t.is(sample(metrics, 'offloop_inflight_requests', { strategy: 'rust' }), 0);
  t.is(
    sample(metrics, 'offloop_http_requests_total', { route: '/sleep/:strategy', strategy: 'rust', status: '504' }),
    1,
  );
});

const poolOf: Record<string, string> = { cpp: 'libuv', worker: 'workers', builtin: 'libuv' };
for (const strategy of ['cpp', 'worker', 'builtin']) {
  test.serial(
    `a client that leaves mid-task (${strategy}): its work stops, the pool's slot frees, in-flight returns to 0`,
    async (t) => {
      const metric = async (name: string, labels: Record<string, string>) =>
        sample((await request(`${server.url}/metrics`)).body.toString(), name, labels);
      const controller = new AbortController();
      // A task of a minute: it can only end within the bound below if the abort really stopped it.
      const gone = request(`${server.url}/sleep/${strategy}?ms=60000`, { signal: controller.signal }).catch(
        (e: Error) => e.name,
      );
      await eventually(async () => (await metric('offloop_inflight_requests', { strategy })) === 1);
      controller.abort();
      t.is(await gone, 'AbortError');
      t.is((await request(`${server.url}/ping`)).status, 200);
      await eventually(
        async () =>
          (await metric('offloop_inflight_requests', { strategy })) === 0 &&
          (await metric('offloop_pool_admitted_requests', { pool: poolOf[strategy]! })) === 0 &&
          ((await metric('offloop_http_requests_total', { route: '/sleep/:strategy', strategy, status: 'aborted' })) ??
            0) >= 1,
        50,
        {
          withinMs: 15_000,
          message: `${strategy}: the aborted 60 s sleep still holds its slot: its work did not stop`,
        },
      );
      // The slot (one in flight) is free: the next request runs now, not after the minute.
      t.is((await request(`${server.url}/sleep/${strategy}?ms=1`)).status, 200);
    },
  );
}

test('/metrics parses, and its counters move', async (t) => {
  const read = async () => (await request(`${server.url}/metrics`)).body.toString();
  const before = sample(await read(), 'offloop_http_requests_total', { route: '/ping', status: '200' }) ?? 0;
  for (let i = 0; i < 3; i++) await request(`${server.url}/ping`);
  const text = await read();
  t.is(sample(text, 'offloop_http_requests_total', { route: '/ping', status: '200' }), before + 3);
  t.notRegex(text, /strategy="-?"/, 'no placeholder strategy label');
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    t.regex(line, /^[a-zA-Z_:][\w:]*(\{[^}]*\})? -?(\d|NaN|\+Inf)/, line);
  }
  const pid = String(server.pids[0]);
  for (const which of ['p50', 'p99', 'max'])
    t.true(sample(text, `offloop_event_loop_delay_${which}_seconds`, { pid })! >= 0);
  t.true(sample(text, 'offloop_event_loop_utilization_ratio', { pid })! >= 0);
  t.is(sample(text, 'offloop_pool_threads', { pool: 'libuv' }), 4);
  t.is(sample(text, 'offloop_queued_requests', { strategy: 'worker' }), 0);
  t.true(sample(text, 'process_resident_memory_bytes', { pid })! > 0);
});
