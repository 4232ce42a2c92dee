import test from 'ava';
import { pbkdf2Sync } from 'node:crypto';
import type { AsyncKernels } from '../src/index.js';
import { asyncEngines, offloadEngines, poolSize } from './helpers/engines.js';
import { isAbortError, settle } from './helpers/outcome.js';



/** Records the order in which promises settle. */
function journal() {
  const order: string[] = [];
  const track = <T>(label: string, promise: Promise<T>) =>
    promise.then(
      (value) => (order.push(`${label}:ok`), value),
      (error: unknown) => {
        order.push(`${label}:${isAbortError(error) ? 'abort' : 'error'}`);
        throw error;
      },
    );
  return { order, track };
}

const starts: Record<string, (engine: AsyncKernels, signal: AbortSignal) => Promise<unknown>> = {
  primes: (e, signal) => e.primes(4_000_000_000, { signal }),
  pbkdf2: (e, signal) => e.pbkdf2('pw', 'salt', 100_000_000, 32, { signal }),
  blur: (e, signal) => e.blur(new Uint8Array(4096 * 4096 * 4), 4096, 4096, 50, { signal }),
  sleep: (e, signal) => e.sleep(60_000, { signal }),
  noop: (e, signal) => e.noop({ signal }),
};

for (const engine of asyncEngines) {
  test(`${engine.name}: a pre-aborted signal rejects every kernel with AbortError`, async (t) => {
    const signal = AbortSignal.abort();
    for (const [kernel, start] of Object.entries(starts)) {
      const { error } = (await settle(() => start(engine, signal))) as { error?: unknown };
      t.true(isAbortError(error), kernel);
    }
    t.is(await engine.primes(100), 25);
  });
}

for (const engine of offloadEngines) {
  const size = poolSize(engine.name);

  test.serial(`${engine.name}: a task aborted while queued is dropped, and the pool is intact`, async (t) => {
    const { order, track } = journal();
    // Fill every thread with a sleep, then queue one more task behind them and abort it.
    const blockers = Array.from({ length: size }, (_, i) => track(`sleep${i}`, engine.sleep(400)));
    const queued = new AbortController();
    const victim = track('queued', engine.pbkdf2('pw', 'salt', 2_000_000, 32, { signal: queued.signal }));
    queued.abort();
    const { error } = (await settle(() => victim)) as { error?: unknown };
    t.true(isAbortError(error));
    // It was dropped from the queue: rejected before any thread came free to run it.
    t.deepEqual(order, ['queued:abort']);
    await Promise.all(blockers);
    t.is(await engine.primes(1000), 168);
  });

  for (const kernel of ['primes', 'pbkdf2', 'blur', 'sleep'] as const) {
    test.serial(`${engine.name}: ${kernel} aborted while running stops early, and the next task runs`, async (t) => {
      const { order, track } = journal();
      const running = new AbortController();
      const long = track(kernel, starts[kernel]!(engine, running.signal));
      // A witness on a second thread: the long task, if not stopped, would run for many seconds more.
      const witness = track('witness', engine.sleep(1500));
      // Long enough for the task to have started; native blur of this image takes only ~50 ms.
      await new Promise((resolve) => setTimeout(resolve, kernel === 'blur' ? 10 : 150));
      running.abort();
      const { error } = (await settle(() => long)) as { error?: unknown };
      t.true(isAbortError(error), String(error));
      t.deepEqual(order, [`${kernel}:abort`]);
      t.is((await engine.pbkdf2('pw', 'salt', 1000, 32)).toString('hex'), pbkdf2Sync('pw', 'salt', 1000, 32, 'sha256').toString('hex'));
      await witness;
    });
  }

  test.serial(`${engine.name}: aborting after completion, or twice, changes nothing`, async (t) => {
    const controller = new AbortController();
    t.is(await engine.primes(100, { signal: controller.signal }), 25);
    controller.abort();
    controller.abort();
    t.is(await engine.primes(100, { signal: controller.signal }).catch((e: unknown) => (isAbortError(e) ? 'aborted' : e)), 'aborted');
  });
}
