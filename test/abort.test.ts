import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import type { AsyncKernels } from '../src/index.js';
import { asyncEngines, offloadEngines, poolSize } from './helpers/engines.js';
import { isAbortError, settle } from './helpers/outcome.js';

/** Records the order in which promises settle. */
function journal() {
  const order: string[] = [];
  const track = <T>(label: string, promise: Promise<T>) =>
    promise.then(
      (value) => {
        order.push(`${label}:ok`);
        return value;
      },
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
    const blockers = Array.from({ length: size }, (_, i) => track(`sleep${i}`, engine.sleep(250)));
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

  test.serial(`${engine.name}: aborting after completion, or twice, changes nothing`, async (t) => {
    const controller = new AbortController();
    t.is(await engine.primes(100, { signal: controller.signal }), 25);
    controller.abort();
    controller.abort();
    t.is(
      await engine.primes(100, { signal: controller.signal }).catch((e: unknown) => (isAbortError(e) ? 'aborted' : e)),
      'aborted',
    );
  });
}

// "Stops early", for every kernel on every off-loop engine, measured in a child process whose
// pool has ONE thread (libuv's too: UV_THREADPOOL_SIZE=1), so that a probe queued behind the
// aborted task shows when the thread is free again. Both the rejection and the free thread must
// come within a quarter of an un-aborted run of the same task, measured in the same process just
// before: a kernel that ignores its cancel flag runs on to the end (~the whole run).
interface StopFigures {
  kernel: string;
  fullMs: number;
  toRejectMs: number | null;
  toFreeMs: number;
  outcome: string;
  runningAtAbort?: number;
}
const stopsEarly = fileURLToPath(new URL('./fixtures/stops-early.js', import.meta.url));

for (const engine of offloadEngines) {
  test.serial(
    `${engine.name}: each kernel aborted while running rejects, and frees its thread, in under ¼ of an un-aborted run`,
    async (t) => {
      const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', stopsEarly, engine.name], {
        env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
      });
      const figures = stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as StopFigures);
      t.deepEqual(
        figures.map((f) => f.kernel),
        ['primes', 'pbkdf2', 'blur', 'sleep'],
      );
      for (const f of figures) {
        const what = `${engine.name} ${f.kernel}`;
        const ms = (v: number | null) => (v === null ? 'never' : `${v.toFixed(1)} ms`);
        t.log(
          `${what}: un-aborted ${ms(f.fullMs)}; ` +
            `abort → rejected ${ms(f.toRejectMs)}, → thread free ${ms(f.toFreeMs)}`,
        );
        t.is(f.outcome, 'AbortError', `${what}: the aborted task must reject with AbortError`);
        if (f.runningAtAbort !== undefined) t.is(f.runningAtAbort, 1, `${what}: the task was running when aborted`);
        t.true(
          f.toRejectMs !== null && f.toRejectMs < f.fullMs / 4,
          `${what}: rejected ${ms(f.toRejectMs)} after the abort, ` +
            `against ${ms(f.fullMs)} un-aborted: it does not stop early`,
        );
        t.true(
          f.toFreeMs < f.fullMs / 4,
          `${what}: its thread was busy ${ms(f.toFreeMs)} after the abort, against ${ms(f.fullMs)} un-aborted: ` +
            'the kernel does not poll its cancel flag',
        );
      }
    },
  );
}
