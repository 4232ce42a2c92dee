import test from 'ava';
import { raw } from './helpers/raw.js';
import { type RunningServer, request, startServer } from './helpers/server.js';

// The loop budget through HTTP: checked from the arguments before anything runs on the loop.
let server: RunningServer;
test.before(async () => {
  server = await startServer(['--max-loop-ms', '100', '--max-loop-share', '0.01']);
});
test.after.always(async () => {
  await server?.stop();
});

// One at a time: each admitted request spends the shared budget the next one reads.
test.serial('422 past --max-loop-ms, naming the argument and the cap, for every loop route', async (t) => {
  const cases: [string, Promise<Awaited<ReturnType<typeof request>>>, string][] = [
    ['sleep/blocking', request(`${server.url}/sleep/blocking?ms=101`), 'ms'],
    ['sleep/cpp-sync', request(`${server.url}/sleep/cpp-sync?ms=60000`), 'ms'],
    ['terrible-ping', request(`${server.url}/terrible-ping?ms=101`), 'ms'],
    ['primes/rust-sync', request(`${server.url}/primes/rust-sync?limit=4294967295`), 'limit'],
    [
      'pbkdf2/blocking',
      request(`${server.url}/pbkdf2/blocking`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password: 'p', salt: 's', iterations: 100_000_000 }),
      }),
      'iterations',
    ],
  ];
  for (const [name, pending, field] of cases) {
    const reply = await pending;
    t.is(reply.status, 422, name);
    t.like(reply.json(), { field, maxLoopMs: 100 }, name);
    t.regex(reply.json<{ error: string }>().error, /--max-loop-ms/);
  }
});

test.serial('a blur too long for the loop is refused from its query, before its body is read', async (t) => {
  const side = 4096; // 64 MiB of pixels: declared, never sent
  const reply = await raw(
    server.port,
    [
      `POST /blur/blocking?width=${side}&height=${side}&radius=1 HTTP/1.1\r\nHost: x\r\n` +
        `Content-Type: application/octet-stream\r\nContent-Length: ${side * side * 4}\r\n\r\n`,
    ],
    { responses: 1, waitMs: 60_000 }, // ends at the answer: only a bound for a hang
  );
  t.is(reply.responses[0]?.status, 422);
  t.like(JSON.parse(reply.responses[0]!.body), { field: 'width' });
});

test.serial(
  'exactly the cap runs; then the share is spent: 503 with Retry-After, and offloaded routes still run',
  async (t) => {
    const at = await request(`${server.url}/sleep/blocking?ms=100`);
    t.is(at.status, 200);
    // 100 ms of loop at a share of 0.01 (10 ms of allowance per second): spent for ~9 s.
    const refused = await request(`${server.url}/sleep/blocking?ms=1`);
    t.is(refused.status, 503);
    t.regex(String(refused.headers['retry-after']), /^\d+$/);
    t.regex(refused.json<{ error: string }>().error, /--max-loop-share/);
    t.is((await request(`${server.url}/sleep/cpp?ms=1`)).status, 200);
    t.is((await request(`${server.url}/ping`)).status, 200);
  },
);
