import { pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import test from 'ava';
import { js } from '../src/index.js';
import {
  noRedisMessage,
  type RedisInstance,
  type RunningWorker,
  redisServerPath,
  startRedis,
  startWorker,
} from './helpers/redis.js';
import { eventually, type RunningServer, request, startServer } from './helpers/server.js';

// The queue strategy end to end: a real Redis, the server and `offloop worker` processes, as a
// user runs them. Answers must equal the library's, whichever worker ran them.

const run = redisServerPath ? test.serial : test.skip;
if (!redisServerPath) {
  test('queue tests need redis-server', (t) => {
    t.log(noRedisMessage);
    t.pass();
  });
}

let redis: RedisInstance;
let server: RunningServer;
const workers: RunningWorker[] = [];
const maxWaiting = 2;

test.before(async () => {
  if (!redisServerPath) return;
  redis = await startRedis();
  server = await startServer(['--redis-url', redis.url, '--max-queue', String(maxWaiting)]);
  workers.push(
    await startWorker(redis.url, ['--concurrency', '1']),
    await startWorker(redis.url, ['--concurrency', '1', '--engine', 'rust']),
  );
});
test.after.always(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  await server?.stop();
  await redis?.stop();
});

const json = { 'content-type': 'application/json' };
type Answer = { kernel: string; strategy: string; result: unknown; elapsedMs: number; worker: string };

run('/strategies lists queue as on', async (t) => {
  const table = (await request(`${server.url}/strategies`)).json<{ name: string; enabled: boolean }[]>();
  t.like(
    table.find((s) => s.name === 'queue'),
    { enabled: true, pool: 'queue', blocksLoop: false },
  );
});

run(
  "primes, pbkdf2, blur and sleep through the queue equal the library's, with the worker that ran them",
  async (t) => {
    const ids = workers.map((w) => w.id);
    for (const limit of [0, 2, 1000, 1_000_003]) {
      const body = (await request(`${server.url}/primes/queue?limit=${limit}`)).json<Answer>();
      t.like(body, { kernel: 'primes', strategy: 'queue', result: js.primesSync(limit) });
      t.true(ids.includes(body.worker) && body.elapsedMs >= 0);
    }
    const input = { password: 'correct horse', salt: 'NaCl', iterations: 2000, keylen: 48 };
    const key = await promisify(pbkdf2)(input.password, input.salt, 2000, 48, 'sha256');
    const derived = await request(`${server.url}/pbkdf2/queue`, {
      method: 'POST',
      body: JSON.stringify(input),
      headers: json,
    });
    t.like(derived.json<Answer>(), { kernel: 'pbkdf2', result: key.toString('hex') });

    const width = 37;
    const height = 23;
    const rgba = Buffer.from(Array.from({ length: width * height * 4 }, (_, i) => (i * 7919) % 256));
    const blurred = await request(`${server.url}/blur/queue?width=${width}&height=${height}&radius=3`, {
      method: 'POST',
      body: rgba,
      headers: { 'content-type': 'application/octet-stream' },
    });
    t.is(blurred.status, 200);
    t.deepEqual(blurred.body, js.blurSync(rgba, width, height, 3));
    t.true(ids.includes(String(blurred.headers['x-worker'])));

    t.like((await request(`${server.url}/sleep/queue?ms=5`)).json<Answer>(), { kernel: 'sleep', result: null });
  },
);

run('two workers share the load: while one runs a job, the other takes the next', async (t) => {
  // Each worker runs one job at a time, so a second job sent while a worker runs the first must
  // land on the other: it is sent once a worker has started the first (which lasts 3 s).
  const get = () => request(`${server.url}/sleep/queue?ms=3000`).then((r) => r.json<Answer>());
  const from = workers.map((w) => w.events.length);
  const first = get();
  await Promise.any(workers.map((w, i) => w.next((e) => e.event === 'start', from[i])));
  const answers = await Promise.all([first, get()]);
  t.deepEqual(answers.map((a) => a.worker).sort(), workers.map((w) => w.id).sort());
});

run('answered jobs leave nothing in Redis: no job hash, no payload or result keys', async (t) => {
  const client = redis.client();
  const before = await client.keys('*');
  t.false(before.some((k) => /offloop:(in|out):/.test(k)));
  const rgba = Buffer.alloc(8 * 8 * 4, 9);
  await request(`${server.url}/blur/queue?width=8&height=8&radius=1`, {
    method: 'POST',
    body: rgba,
    headers: { 'content-type': 'application/octet-stream' },
  });
  await request(`${server.url}/pbkdf2/queue`, {
    method: 'POST',
    body: JSON.stringify({ password: 'p', salt: 's', iterations: 10 }),
    headers: json,
  });
  // The server deletes payload keys right after it answers: wait for that, not for a fixed time.
  await eventually(async () => (await client.keys('offloop:*')).length === 0);
  const left = await client.keys('*');
  // BullMQ's own bookkeeping (ids counter, events stream, meta) stays; per-job keys must not.
  t.deepEqual(
    left.filter((k) => !/^bull:offloop:(id|events|meta|stalled-check|marker)$/.test(k)),
    [],
    `left: ${left.join(', ')}`,
  );
  t.is(await client.zcard('bull:offloop:completed'), 0);
});

run(
  `the queue bound: past ${maxWaiting} waiting jobs, 503 with Retry-After; ` +
    'clients that leave get their jobs removed or cancelled',
  async (t) => {
    const client = redis.client();
    const sleeper = () => {
      const controller = new AbortController();
      const reply = request(`${server.url}/sleep/queue?ms=60000`, { signal: controller.signal }).catch(() => undefined);
      return { controller, reply };
    };
    // Both workers (one job at a time each) busy with long jobs…
    const marks = workers.map((w) => w.events.length);
    const running = [sleeper(), sleeper()];
    const starts = await Promise.all(
      workers.map((w, i) => w.next((e) => e.event === 'start' && e.kernel === 'sleep', marks[i])),
    );
    // …then the bound's worth of waiting ones, and one more.
    const waiting = Array.from({ length: maxWaiting }, sleeper);
    await eventually(async () => (await client.llen('bull:offloop:wait')) === maxWaiting);
    const refused = await request(`${server.url}/primes/queue?limit=10`);
    t.is(refused.status, 503);
    t.is(refused.headers['retry-after'], '1');
    t.like(refused.json(), { strategy: 'queue' });

    // The waiting jobs' clients leave: their jobs leave Redis, and no worker ever starts them.
    for (const w of waiting) w.controller.abort();
    await Promise.all(waiting.map((w) => w.reply));
    await eventually(async () => (await client.llen('bull:offloop:wait')) === 0);
    // The running jobs' clients leave: each worker's kernel is aborted (a 60 s sleep ends now).
    for (const r of running) r.controller.abort();
    await Promise.all(running.map((r) => r.reply));
    const aborts = await Promise.all(workers.map((w, i) => w.next((e) => e.event === 'aborted', marks[i])));
    t.deepEqual(
      aborts.map((e) => e.job),
      starts.map((e) => e.job),
    );
    const startedSince = workers.flatMap((w, i) => w.events.slice(marks[i]).filter((e) => e.event === 'start'));
    t.is(startedSince.length, 2, 'only the two running jobs ever started');
    // Each worker is free again: the next job is answered.
    t.is((await request(`${server.url}/primes/queue?limit=10`)).status, 200);
  },
);
