import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import test from 'ava';
import { createWorkers, type WorkerEngine } from '../src/index.js';
import { dbOptions } from '../src/server/db/options.js';
import { parseDatabaseUrl } from '../src/server/db/target.js';
import type { Mode } from './fixtures/cooperative.js';
import { isAbortError, settle } from './helpers/outcome.js';
import { rng } from './helpers/random.js';

// Aborts and pool closes must never terminate a worker while it loads a module: in Node 20 a
// worker terminated inside require(esm) aborts the whole process (SIGABRT). A module with many
// exports takes long to load, so a storm of aborts against it hit that window at once when
// piscina terminated workers on abort. If this file's process dies, that is the bug.
const cooperative = new URL('./fixtures/cooperative.js', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'offloop-storm-'));
const heavy = join(dir, 'heavy.mjs');
writeFileSync(
  heavy,
  Array.from({ length: 20_000 }, (_, i) => `export const e${i} = ${i};`).join('\n') +
    '\nexport default (n) => n + 1;\n',
);
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const pools = 6;
const perPool = 160;
const inFlight = 8;

test.serial(
  `abort storm: ${pools * perPool} runFile and kernel tasks aborted at 0–2 ms while pools are created and closed`,
  async (t) => {
    const r = rng(909);
    const counts = { done: 0, aborted: 0 };
    const check = (kind: string, expected: unknown) => (outcome: Awaited<ReturnType<typeof settle>>) => {
      if ('value' in outcome) {
        t.deepEqual(outcome.value, expected, kind);
        counts.done++;
      } else {
        t.true(isAbortError(outcome.error), `${kind}: ${String(outcome.error)}`);
        counts.aborted++;
      }
    };
    for (let p = 0; p < pools; p++) {
      const pool = createWorkers({ threads: 2 });
      let started = 0;
      let closing: Promise<void> | undefined;
      const lane = async () => {
        while (started < perPool) {
          const i = started++;
          const controller = new AbortController();
          const signal = controller.signal;
          // Most aborts land at 0–2 ms; one in four while the heavy module may still be loading
          // (0–400 ms); one task in five is not aborted, so that every pool also finishes work.
          const abortMs = i % 4 === 0 && r.next() < 0.5 ? r.int(0, 400) : r.int(0, 2);
          const timer = i % 5 === 0 ? undefined : setTimeout(() => controller.abort(), abortMs);
          const [kind, run, expected]: [string, () => Promise<unknown>, unknown] = [
            ['runFile heavy', () => pool.runFile(pathToFileURL(heavy), i, { signal }), i + 1],
            ['runFile', () => pool.runFile(cooperative, 'thread', { signal }), undefined],
            ['sleep', () => pool.sleep(1, { signal }), undefined],
            ['primes', () => pool.primes(100_000, { signal }), 9592],
          ][i % 4] as [string, () => Promise<unknown>, unknown];
          const outcome = await settle(run);
          clearTimeout(timer);
          if (kind === 'runFile' && 'value' in outcome) t.is(typeof outcome.value, 'number');
          else check(kind, expected)(outcome);
          // Every other pool is closed while its lanes still submit: the rest go to a fresh pool.
          if (p % 2 === 1 && i === perPool >> 1) closing = pool.close();
        }
      };
      await Promise.all(Array.from({ length: inFlight }, lane));
      await closing;
      t.is(pool.queueSize, 0);
      await pool.close();
    }
    t.log(`${pools * perPool} tasks over ${pools} pools: ${counts.done} finished, ${counts.aborted} aborted`);
    const after = createWorkers({ threads: 1 });
    t.is(await after.runFile<number>(pathToFileURL(heavy), 41), 42);
    await after.close();
  },
);

test.serial(
  'pools created and closed at once, while their threads still load, with tasks aborted at 0–2 ms',
  async (t) => {
    const r = rng(77);
    for (let i = 0; i < 20; i++) {
      const pool = createWorkers({ threads: 2 });
      const tasks = [0, 1, 2, 3].map((j) => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), r.int(0, 2));
        const signal = controller.signal;
        return settle(() =>
          j % 2 ? pool.runFile(pathToFileURL(heavy), j, { signal }) : pool.primes(10_000, { signal }),
        );
      });
      await new Promise((resolve) => setTimeout(resolve, r.int(0, 2)));
      await pool.close();
      for (const outcome of await Promise.all(tasks)) t.true('value' in outcome || isAbortError(outcome.error));
    }
  },
);

function onOneThread(t: { teardown(fn: () => unknown): void }): WorkerEngine {
  const pool = createWorkers({ threads: 1 });
  t.teardown(() => pool.close());
  return pool;
}

for (const mode of ['await', 'poll'] as const) {
  test(
    `runFile: a running task that ${mode === 'await' ? 'awaits its signal' : 'polls context.cancelled'} ` +
      'stops on abort, on the same thread',
    async (t) => {
      const pool = onOneThread(t);
      const thread = await pool.runFile<number>(cooperative, 'thread');
      const controller = new AbortController();
      const running = settle(() => pool.runFile(cooperative, mode satisfies Mode, { signal: controller.signal }));
      // The task is running once a task queued behind it is waiting.
      const behind = pool.runFile<number>(cooperative, 'thread');
      t.is(pool.queueSize, 1);
      setTimeout(() => controller.abort(), 50);
      const outcome = await running;
      t.true('error' in outcome && isAbortError(outcome.error));
      t.is(await behind, thread, 'the same worker ran the next task: none was terminated');
    },
  );
}

test(
  'runFile: a task that ignores its cancellation runs to its end; ' + 'the promise then rejects, the thread is kept',
  async (t) => {
    const pool = onOneThread(t);
    const thread = await pool.runFile<number>(cooperative, 'thread');
    const order: string[] = [];
    const controller = new AbortController();
    const running = settle(() =>
      pool.runFile(cooperative, 'ignore' satisfies Mode, { signal: controller.signal }),
    ).then((o) => {
      order.push('ignored');
      return o;
    });
    const behind = pool.runFile<number>(cooperative, 'thread').then((id) => {
      order.push('behind');
      return id;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    const outcome = await running;
    t.true('error' in outcome && isAbortError(outcome.error));
    t.is(await behind, thread);
    t.deepEqual(order, ['ignored', 'behind'], 'the aborted task held its thread until it really ended');
  },
);

test(
  'runFile: bad module arguments are TypeErrors naming "module"; ' + 'a module with no default function rejects',
  async (t) => {
    const pool = onOneThread(t);
    for (const bad of [42, '', new URL('https://example.com/x.js'), null]) {
      await t.throwsAsync(pool.runFile(bad as never, {}), {
        instanceOf: TypeError,
        code: 'ERR_INVALID_ARG_TYPE',
        message: /"module"/,
      });
    }
    const none = join(dir, 'none.mjs');
    writeFileSync(none, 'export const x = 1;\n');
    await t.throwsAsync(pool.runFile(none, {}), { instanceOf: TypeError, message: /no default export/ });
    t.is(await pool.runFile<number>(heavy, 1), 2, 'a plain path works too');
  },
);

test("runFile: /good-ping's task hands its context to the sleep kernel, so an abort stops it at once", async (t) => {
  const pool = createWorkers({ threads: 2 });
  t.teardown(() => pool.close());
  const seed = new URL('../src/server/seed-worker.js', import.meta.url);
  const dir = mkdtempSync(join(tmpdir(), 'offloop-seed-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = parseDatabaseUrl(`sqlite:${join(dir, 'seed.db')}`);
  const task = (ms: number) => ({ op: 'pong', ms, target, options: dbOptions(30_000, 1) });
  t.deepEqual(await pool.runFile(seed, task(1)), { ok: true, value: 'pong' });
  const order: string[] = [];
  const controller = new AbortController();
  const long = settle(() => pool.runFile(seed, task(30_000), { signal: controller.signal })).then((o) => {
    order.push('good-ping');
    return o;
  });
  const witness = pool.sleep(1000).then(() => order.push('witness'));
  await new Promise((resolve) => setTimeout(resolve, 50));
  controller.abort();
  const outcome = await long;
  await witness;
  t.true('error' in outcome && isAbortError(outcome.error));
  t.deepEqual(order, ['good-ping', 'witness'], 'the 30 s sleep stopped before a 1 s one on the other thread');
});
