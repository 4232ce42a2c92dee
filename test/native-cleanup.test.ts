import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';
import test from 'ava';

// Node waits for running libuv-threadpool work before a process or a worker thread may end.
// The addons stop that work when their environment ends, so exiting does not wait for it; their
// own pools are joined and closed by the environment's teardown, queued calls and all. The
// oracle is the work's own length: a minute of sleep (and the longest primes) in each addon,
// so an exit that comes before a minute has passed did not wait for it.
const fixture = new URL('./fixtures/long-native-work.js', import.meta.url);
const workLength = 60_000;

test('process.exit() does not wait for running native work on libuv’s pool', async (t) => {
  const started = Date.now();
  const child = spawn(process.execPath, [fixture.pathname, 'exit'], { stdio: 'inherit' });
  const [code] = await once(child, 'exit');
  t.is(code, 0);
  t.true(Date.now() - started < workLength);
});

test('process.exit() in a worker thread does not wait for its native work', async (t) => {
  const started = Date.now();
  const worker = new Worker(fixture, { workerData: 'exit' });
  const [code] = await once(worker, 'exit');
  t.is(code, 0);
  t.true(Date.now() - started < workLength);
});

test('worker.terminate() does not wait for the worker’s native work', async (t) => {
  const worker = new Worker(fixture, { workerData: 'wait' });
  await once(worker, 'message');
  const started = Date.now();
  await worker.terminate();
  t.true(Date.now() - started < workLength);
});
