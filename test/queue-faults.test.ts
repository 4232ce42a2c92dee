import { pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import test from 'ava';
import { js } from '../src/index.js';
import { type QueueAbortError, QueueProducer } from '../src/queue/producer.js';
import { within } from './helpers/outcome.js';
import { rng } from './helpers/random.js';
import { cut } from './helpers/raw.js';
import {
  noRedisMessage,
  type RedisInstance,
  type RunningWorker,
  redisServerPath,
  startRedis,
  startWorker,
} from './helpers/redis.js';
import { eventually, type RunningServer, request, startServer } from './helpers/server.js';

// Nothing lost, nothing stuck: workers killed, missing or stopped, requests abandoned, Redis
// gone and back. Each test has its own Redis, server and workers, so none leans on another.

const run = redisServerPath ? test : test.skip;
if (!redisServerPath) {
  test('queue fault tests need redis-server', (t) => {
    t.log(noRedisMessage);
    t.pass();
  });
}

interface Rig {
  redis: RedisInstance;
  server: RunningServer;
  workers: RunningWorker[];
}
const rigs: Rig[] = [];
async function rig(serverArgs: string[] = []): Promise<Rig> {
  const redis = await startRedis();
  const server = await startServer(['--redis-url', redis.url, ...serverArgs]);
  const made = { redis, server, workers: [] as RunningWorker[] };
  rigs.push(made);
  return made;
}
async function addWorker(r: Rig, args: string[] = ['--concurrency', '1']): Promise<RunningWorker> {
  const worker = await startWorker(r.redis.url, args);
  r.workers.push(worker);
  return worker;
}
test.after.always(async () => {
  for (const r of rigs) {
    await Promise.all(r.workers.map((w) => w.stop('SIGKILL')));
    await r.server.stop();
    await r.redis.stop();
  }
});

const json = { 'content-type': 'application/json' };

run('no worker running: 503 JSON that says so, at once rather than at the timeout', async (t) => {
  const r = await rig();
  const reply = await request(`${r.server.url}/primes/queue?limit=10`);
  t.is(reply.status, 503);
  t.regex(reply.json<{ reason: string }>().reason, /no offloop worker/);
  // Once one starts, the same request is served.
  const worker = await addWorker(r);
  const served = await request(`${r.server.url}/primes/queue?limit=10`);
  t.like(served.json(), { result: 4, worker: worker.id });
});

run(
  'a worker SIGKILLed mid-job: the job is retried on another worker and the client gets the right answer',
  async (t) => {
    const r = await rig();
    const doomed = await addWorker(r);
    const input = { password: 'pw', salt: 'killed mid-job', iterations: 3_000_000, keylen: 32 };
    const reply = request(`${r.server.url}/pbkdf2/queue`, {
      method: 'POST',
      body: JSON.stringify(input),
      headers: json,
    });
    const started = await doomed.next((e) => e.event === 'start');
    await doomed.stop('SIGKILL');
    const rescuer = await addWorker(r);
    const answer = (await reply).json<{ result: string; worker: string }>();
    const key = await promisify(pbkdf2)(input.password, input.salt, input.iterations, input.keylen, 'sha256');
    t.is(answer.result, key.toString('hex'));
    t.is(answer.worker, rescuer.id);
    // The same job, started a second time, by the rescuer (BullMQ's stalled-job recovery).
    t.like(await rescuer.next((e) => e.event === 'start'), { job: started.job, attempt: 2 });
  },
);

run(
  "timeout on a running job: 504, and the worker's kernel really stops (its only slot serves the next job)",
  async (t) => {
    const r = await rig(['--timeout', '3000']);
    const worker = await addWorker(r);
    const timedOut = await request(`${r.server.url}/sleep/queue?ms=60000`);
    t.is(timedOut.status, 504);
    // On a machine too busy to start the job within the timeout it was removed while waiting
    // instead (that case has its own test below); when it started, its kernel was aborted.
    const started = worker.events.find((e) => e.event === 'start');
    if (started) t.like(await worker.next((e) => e.event === 'aborted'), { job: started.job });
    else t.log('the job never started: it was removed while waiting');
    // One slot, and a 60 s sleep would hold it: this answer proves the kernel stopped.
    t.like((await request(`${r.server.url}/primes/queue?limit=1000`)).json(), {
      result: js.primesSync(1000),
      worker: worker.id,
    });
  },
);

run('the AbortError says what became of the job: removed while waiting, cancelled while running', async (t) => {
  const r = await rig();
  const worker = await addWorker(r);
  const producer = new QueueProducer({ redisUrl: r.redis.url, maxWaiting: 10, timeoutMs: 30_000 });
  t.teardown(() => producer.close());
  await producer.ready(10_000);
  const runningCtl = new AbortController();
  const waitingCtl = new AbortController();
  const running = producer.run('sleep', [60_000], runningCtl.signal).catch((e: unknown) => e as QueueAbortError);
  const started = await worker.next((e) => e.event === 'start');
  const waiting = producer.run('sleep', [60_000], waitingCtl.signal).catch((e: unknown) => e as QueueAbortError);
  const client = r.redis.client();
  await eventually(async () => (await client.llen('bull:offloop:wait')) === 1);
  waitingCtl.abort();
  t.like(await waiting, { name: 'AbortError', job: 'removed', cancelled: true });
  runningCtl.abort();
  t.like(await running, { name: 'AbortError', job: 'cancelled', cancelled: true });
  t.like(await worker.next((e) => e.event === 'aborted'), { job: started.job });
  t.is(worker.events.filter((e) => e.event === 'start').length, 1, 'the removed job never started');
});

run(
  'Redis lost: queue routes answer 503 at once, the rest is untouched; back without a restart when Redis returns',
  async (t) => {
    const r = await rig();
    const worker = await addWorker(r);
    t.is((await request(`${r.server.url}/primes/queue?limit=10`)).status, 200);
    // A job in flight when Redis goes: answered 503, not left to the timeout.
    const inFlight = request(`${r.server.url}/sleep/queue?ms=60000`);
    const running = await worker.next((e) => e.event === 'start' && e.kernel === 'sleep');
    await r.redis.stop();
    t.is((await inFlight).status, 503);
    const down = await request(`${r.server.url}/primes/queue?limit=10`);
    t.is(down.status, 503);
    t.regex(down.json<{ reason: string }>().reason, /Redis/);
    t.is((await request(`${r.server.url}/ping`)).status, 200);
    t.like((await request(`${r.server.url}/primes/cpp-pool?limit=1000`)).json(), { result: 168 });
    await r.redis.start();
    // Server and worker reconnect by themselves; the worker finds it lost the job's lock (Redis
    // came back empty) and stops that kernel, so its one slot serves again.
    t.like(await worker.next((e) => e.event === 'lock-lost'), { job: running.job });
    await eventually(async () => (await request(`${r.server.url}/primes/queue?limit=1000`)).status === 200, 100);
    t.like((await request(`${r.server.url}/primes/queue?limit=1000`)).json(), { result: 168, worker: worker.id });
  },
);

run('SIGTERM: a worker stops taking jobs, finishes the running one, and exits 0', async (t) => {
  const r = await rig();
  const stopping = await addWorker(r, ['--concurrency', '2']);
  const first = request(`${r.server.url}/sleep/queue?ms=3000`);
  await stopping.next((e) => e.event === 'start');
  const exited = stopping.stop('SIGTERM');
  await stopping.next((e) => e.event === 'stopping');
  const stoppedAt = stopping.events.length;
  // It has a free slot, but it is stopping: these jobs wait for another worker — all but, at most,
  // the one its free slot was already fetching when the signal came (that one it finishes).
  const later = [1000, 2000, 3000, 4000].map((limit) => request(`${r.server.url}/primes/queue?limit=${limit}`));
  t.like((await first).json(), { result: null, worker: stopping.id });
  t.is(await exited, 0);
  const next = await addWorker(r);
  const answers = await Promise.all(
    later.map(async (reply) => (await reply).json<{ result: number; worker: string }>()),
  );
  t.deepEqual(
    answers.map((a) => a.result),
    [168, 303, 430, 550],
    'nothing is lost',
  );
  const takenWhileStopping = stopping.events.slice(stoppedAt).filter((e) => e.event === 'start').length;
  t.true(takenWhileStopping <= 1, `the stopping worker started ${takenWhileStopping} jobs after SIGTERM`);
  t.true(answers.filter((a) => a.worker === next.id).length >= 3);
});

run('clients that leave at any moment leave no job, payload or result behind, and the workers serve on', async (t) => {
  const r0 = await rig();
  const workers = [await addWorker(r0, ['--concurrency', '2']), await addWorker(r0, ['--concurrency', '2'])];
  const { server, redis } = r0;
  const client = redis.client();
  const head = (line: string, body = '') =>
    `${line} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  const requests = [
    head('GET /primes/queue?limit=3000000'),
    head('POST /pbkdf2/queue', JSON.stringify({ password: 'pw', salt: 's', iterations: 20_000 })),
    head('POST /blur/queue?width=64&height=64&radius=3', 'x'.repeat(64 * 64 * 4)),
    head('GET /sleep/queue?ms=15'),
  ];
  const r = rng(1313);
  for (let sent = 0; sent < 120; sent += 20) {
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => cut(server.port, requests[(sent + i) % 4]!, r.int(0, 40), r.next() < 0.1)),
    );
  }
  await eventually(async () => {
    const [waiting, active, payloads] = await Promise.all([
      client.llen('bull:offloop:wait'),
      client.llen('bull:offloop:active'),
      client.keys('offloop:*'),
    ]);
    return waiting + active + payloads.length === 0;
  });
  t.like((await request(`${server.url}/primes/queue?limit=1000`)).json(), { result: 168 });
  const count = (event: string) => workers.flatMap((w) => w.events.filter((e) => e.event === event)).length;
  t.log(`jobs started ${count('start')}, aborted mid-kernel ${count('aborted')}, finished ${count('done')}`);
});

run(
  'Redis gone: SIGTERM still ends a worker (idle or mid-job) and the server, instead of waiting for Redis forever',
  async (t) => {
    const r = await rig(['--shutdown-timeout', '500']);
    const idle = await addWorker(r);
    const busy = await addWorker(r);
    const reply = request(`${r.server.url}/sleep/queue?ms=20000`);
    await Promise.race([idle.next((e) => e.event === 'start'), busy.next((e) => e.event === 'start')]);
    await r.redis.stop();
    // Graceful closes wait for Redis to answer; with none left, each process must cut its connections.
    t.is(await within(20_000, 'the idle worker after SIGTERM', idle.stop('SIGTERM')), 0);
    t.is(await within(20_000, 'the busy worker after SIGTERM', busy.stop('SIGTERM')), 0);
    t.is(await within(20_000, 'the server after SIGTERM', r.server.stop('SIGTERM')), 0);
    t.is((await reply).status, 503, 'the waiting client was answered, not dropped');
  },
);

run('QueueProducer.close() settles while Redis is gone', async (t) => {
  const redis = await startRedis();
  const producer = new QueueProducer({ redisUrl: redis.url, maxWaiting: 4, timeoutMs: 1000 });
  await producer.ready(5000);
  await redis.stop();
  await within(20_000, 'QueueProducer.close() with Redis gone', producer.close());
  t.pass('close() settled');
});
