import test from 'ava';
import { Gate, OverloadedError } from '../src/server/admission.js';
import { isAbortError, settle } from './helpers/outcome.js';

// The admission gate alone: no HTTP and no timing. Work is a promise the test settles by hand.
function manual() {
  let settle!: () => void;
  const done = new Promise<void>((resolve) => (settle = resolve));
  return { done, settle };
}
/** Lets every settled promise's callbacks run. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

test('the bound: maxInFlight run, maxQueue wait, the next is refused at once', async (t) => {
  const gate = new Gate(2, 1);
  const jobs = [manual(), manual(), manual()];
  const started: number[] = [];
  const runs = jobs.map((job, i) =>
    gate.run(
      undefined,
      async () => {
        started.push(i);
        return job.done;
      },
      'a',
    ),
  );
  await flush();
  t.deepEqual(started, [0, 1]);
  t.is(gate.inFlight, 2);
  t.is(gate.queued, 1);
  t.true(gate.full);
  await t.throwsAsync(
    gate.run(undefined, async () => 'never'),
    { instanceOf: OverloadedError },
  );
  jobs[0]!.settle();
  await flush();
  t.deepEqual(started, [0, 1, 2], 'the waiter runs when a slot frees');
  t.is(gate.inFlight, 2);
  t.false(gate.full);
  jobs[1]!.settle();
  jobs[2]!.settle();
  await Promise.all(runs);
  t.is(gate.inFlight, 0);
  t.is(gate.queued, 0);
});

test('FIFO: waiters run in the order they arrived', async (t) => {
  const gate = new Gate(1, 10);
  const first = manual();
  const order: number[] = [];
  const head = gate.run(undefined, () => first.done);
  const waiters = Array.from({ length: 6 }, (_, i) => gate.run(undefined, async () => void order.push(i)));
  await flush();
  t.deepEqual(order, [], 'nobody runs while the slot is held');
  first.settle();
  await Promise.all([head, ...waiters]);
  t.deepEqual(order, [0, 1, 2, 3, 4, 5]);
});

test('an abort while queued rejects that waiter at once and frees its place; the slot goes to the next', async (t) => {
  const gate = new Gate(1, 2);
  const holder = manual();
  const held = gate.run(undefined, () => holder.done);
  const controller = new AbortController();
  let aborteeRan = false;
  const abortee = gate.run(controller.signal, async () => {
    aborteeRan = true;
  });
  let nextRan = false;
  const next = gate.run(undefined, async () => {
    nextRan = true;
  });
  await flush();
  t.is(gate.queued, 2);
  controller.abort();
  const outcome = await abortee.then(
    () => 'ran',
    (e: unknown) => e,
  );
  t.true(isAbortError(outcome), `the aborted waiter must reject with an AbortError, got ${String(outcome)}`);
  t.is(gate.queued, 1, 'the aborted waiter left the queue');
  t.false(gate.full, 'its place in the queue is free again');
  holder.settle();
  await Promise.all([held, next]);
  t.false(aborteeRan, 'aborted work never runs');
  t.true(nextRan);
  t.is(gate.inFlight, 0, 'every slot is back');
});

test(
  'an abort before run() is refused without taking a slot; ' +
    'an abort while running keeps the slot until the work ends',
  async (t) => {
    const gate = new Gate(1, 1);
    const early = await settle(() => gate.run(AbortSignal.abort(), async () => 'no'));
    t.true('error' in early && isAbortError(early.error));
    t.is(gate.inFlight, 0);
    const controller = new AbortController();
    const work = manual();
    const running = gate.run(controller.signal, () => work.done);
    await flush();
    controller.abort();
    await flush();
    t.is(gate.inFlight, 1, 'work that has not ended still holds its slot (it may be uncancellable)');
    work.settle();
    await running;
    t.is(gate.inFlight, 0);
  },
);

test('labels: strategies sharing a pool share its bound; each is counted apart', async (t) => {
  const gate = new Gate(2, 1);
  const jobs = [manual(), manual(), manual()];
  const runs = [
    gate.run(undefined, () => jobs[0]!.done, 'cpp'),
    gate.run(undefined, () => jobs[1]!.done, 'rust'),
    gate.run(undefined, () => jobs[2]!.done, 'builtin'),
  ];
  await flush();
  t.deepEqual([gate.inFlightOf('cpp'), gate.inFlightOf('rust'), gate.queuedOf('builtin')], [1, 1, 1]);
  await t.throwsAsync(
    gate.run(undefined, async () => 0, 'cpp'),
    { instanceOf: OverloadedError },
  );
  for (const job of jobs) job.settle();
  await Promise.all(runs);
  t.deepEqual([gate.inFlightOf('cpp'), gate.inFlightOf('rust'), gate.inFlightOf('builtin')], [0, 0, 0]);
});

test('work that throws releases its slot', async (t) => {
  const gate = new Gate(1, 0);
  await t.throwsAsync(
    gate.run(undefined, async () => Promise.reject(new Error('boom'))),
    { message: 'boom' },
  );
  t.is(gate.inFlight, 0);
  t.is(await gate.run(undefined, async () => 7), 7);
});
