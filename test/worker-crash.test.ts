import test from 'ava';
import { createWorkers } from '../src/index.js';
import { createServer } from '../src/server/app.js';
import { request } from './helpers/server.js';

const hog = new URL('./fixtures/hog.js', import.meta.url);
const exit = new URL('./fixtures/exit.js', import.meta.url);

test('a task that kills its worker rejects; the pool replaces the worker, says so, and runs on', async (t) => {
  const exits: Error[] = [];
  const onWorkerExit = (error: Error) => exits.push(error);
  const pool = createWorkers({ threads: 1, resourceLimits: { maxOldGenerationSizeMb: 32 }, onWorkerExit });
  t.teardown(() => pool.close());
  t.is(await pool.primes(1000), 168);
  await t.throwsAsync(pool.primes(-1), { instanceOf: RangeError });
  t.deepEqual(exits, [], 'a task that fails is no dead thread');
  const oom = await t.throwsAsync(pool.runFile(hog, {}));
  t.is((oom as Error & { code?: string }).code, 'ERR_WORKER_OUT_OF_MEMORY');
  t.deepEqual(exits, [oom], 'told once, with the error the task rejected with');
  t.is(await pool.primes(1000), 168);
  const exited = await t.throwsAsync(pool.runFile(exit, {}), { message: /exit|code 3/i });
  t.deepEqual(exits, [oom, exited]);
  const after = await Promise.all([pool.primes(100), pool.pbkdf2('pw', 'salt', 1, 8), pool.sleep(1)]);
  t.deepEqual([after[0], after[1].toString('hex'), after[2]], [25, '6f4ad8c78ec365c0', undefined]);
});

test('server: a request whose task kills its worker gets a 500, and the next requests succeed', async (t) => {
  // The pool is real and so is the crash: requests for limit=666 run the heap-hog fixture on it.
  const pool = createWorkers({ threads: 1, resourceLimits: { maxOldGenerationSizeMb: 32 } });
  const crashing = {
    ...pool,
    primes: (limit: number, options?: { signal?: AbortSignal }) =>
      limit === 666 ? pool.runFile<number>(hog, {}, options) : pool.primes(limit, options),
  };
  const server = await createServer({ port: 0, host: '127.0.0.1', workerPool: crashing, logLevel: 'fatal' });
  t.teardown(async () => {
    await server.close();
    await pool.close();
  });
  const url = `http://127.0.0.1:${server.port}`;
  const crash = await request(`${url}/primes/worker?limit=666`);
  t.is(crash.status, 500);
  t.deepEqual(crash.json(), { error: 'internal error' });
  for (let i = 0; i < 3; i++) t.like((await request(`${url}/primes/worker?limit=1000`)).json(), { result: 168 });
  t.is(server.inFlight, 0);
});
