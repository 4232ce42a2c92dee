import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { AbortError, type AsyncKernels, cppPool, createWorkers, rustPool } from '../src/index.js';
import { asyncEngines, offloadEngines, poolSize } from './helpers/engines.js';
import { settle } from './helpers/outcome.js';

// Every engine rejects an aborted task as Node's own abortable APIs do (timers/promises is the
// oracle): an AbortError with code 'ABORT_ERR' whose cause is the signal's reason — aborted
// before the call, while queued, or while running; and the pools' close() too, with no cause.

const cooperative = fileURLToPath(new URL('./fixtures/cooperative.js', import.meta.url));

/** What Node's timers/promises rejects with for the same signal. */
async function nodeAbort(signal: AbortSignal): Promise<Error> {
  return (await delay(60_000, undefined, { signal }).catch((error: unknown) => error)) as Error;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  const outcome = await settle(() => promise);
  return 'error' in outcome ? outcome.error : new Error(`resolved with ${String(outcome.value)}`);
}

/** Asserts `error` is shaped as Node's own AbortError for `signal`. */
async function assertLikeNode(t: import('ava').ExecutionContext, error: unknown, signal: AbortSignal, what: string) {
  const node = await nodeAbort(signal);
  t.true(error instanceof AbortError, `${what}: an instance of offloop's AbortError (${String(error)})`);
  t.true(error instanceof Error, what);
  const { name, code, message, cause } = error as AbortError;
  t.deepEqual(
    { name, code, message },
    { name: node.name, code: (node as AbortError).code, message: node.message },
    what,
  );
  t.is(cause, signal.reason, `${what}: the signal's reason is the cause`);
  t.is(cause, node.cause, what);
}

const sleepLong = (engine: AsyncKernels, signal?: AbortSignal) => engine.sleep(60_000, signal ? { signal } : {});

for (const engine of asyncEngines) {
  test(`${engine.name}: aborted before the call, the AbortError's cause is the signal's reason`, async (t) => {
    for (const reason of [new Error('client went away'), 'a string reason', undefined]) {
      const signal = AbortSignal.abort(reason);
      await assertLikeNode(t, await rejection(engine.primes(100, { signal })), signal, `reason ${String(reason)}`);
    }
  });
}

for (const engine of offloadEngines) {
  const size = poolSize(engine.name);

  test.serial(`${engine.name}: aborted while queued, the AbortError's cause is the signal's reason`, async (t) => {
    const holding = new AbortController(); // keeps every thread busy until the end
    const blockers = Array.from({ length: size }, () => settle(() => sleepLong(engine, holding.signal)));
    const controller = new AbortController();
    const queued = rejection(engine.pbkdf2('pw', 'salt', 1, 32, { signal: controller.signal }));
    controller.abort(new Error('deadline passed'));
    await assertLikeNode(t, await queued, controller.signal, 'queued');
    holding.abort(new RangeError('the test is over'));
    for (const outcome of await Promise.all(blockers)) {
      t.true('error' in outcome && (outcome.error as AbortError).cause === holding.signal.reason, 'running');
    }
  });

  test.serial(`${engine.name}: aborted while running, the AbortError's cause is the signal's reason`, async (t) => {
    const controller = new AbortController();
    const running = rejection(sleepLong(engine, controller.signal));
    if ('stats' in engine)
      await until(() => engine.stats().running === 1); // the pools say when it runs
    else await delay(20); // libuv's pool is idle: the task is on a thread at once
    const reason = Object.assign(new Error('shutting down'), { code: 'SHUTDOWN' });
    controller.abort(reason);
    await assertLikeNode(t, await running, controller.signal, 'running');
  });
}

test.serial('runFile: aborted before, while queued and while running, the cause is the reason', async (t) => {
  const pool = createWorkers({ threads: 1 });
  t.teardown(() => pool.close());
  const before = AbortSignal.abort(new Error('before'));
  await assertLikeNode(t, await rejection(pool.runFile(cooperative, 'thread', { signal: before })), before, 'before');

  const runningCtl = new AbortController();
  const running = rejection(pool.runFile(cooperative, 'await', { signal: runningCtl.signal }));
  const queuedCtl = new AbortController();
  const queued = rejection(pool.runFile(cooperative, 'thread', { signal: queuedCtl.signal }));
  t.is(pool.queueSize, 1);
  queuedCtl.abort(new Error('queued'));
  await assertLikeNode(t, await queued, queuedCtl.signal, 'queued');
  runningCtl.abort(new Error('running'));
  await assertLikeNode(t, await running, runningCtl.signal, 'running');
});

for (const pool of [cppPool, rustPool]) {
  test.serial(`${pool.name}: close() rejects the pending tasks with an AbortError that has no cause`, async (t) => {
    await pool.close();
    pool.configure({ threads: 1 });
    t.teardown(async () => {
      await pool.close();
      pool.configure({ threads: poolSize(pool.name) });
    });
    const running = rejection(pool.sleep(60_000));
    const queued = rejection(pool.sleep(60_000));
    await until(() => pool.stats().running === 1 && pool.stats().queued === 1);
    await pool.close();
    for (const error of [await queued, await running]) {
      t.true(error instanceof AbortError, String(error));
      t.is((error as AbortError).code, 'ABORT_ERR');
      t.is((error as AbortError).cause, undefined);
    }
  });
}

/** Waits for a condition that a pool's stats() will show (a generous bound: a hang fails with a message). */
async function until(check: () => boolean, withinMs = 30_000): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`still false after ${withinMs} ms: ${check.toString()}`);
    await delay(2);
  }
}
