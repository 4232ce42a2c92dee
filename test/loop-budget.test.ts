import test from 'ava';
import { js } from '../src/index.js';
import { HttpError } from '../src/server/http.js';
import { calibrate, LoopBudget, LoopGuard, type UnitCosts, workUnits } from '../src/server/loop-budget.js';

// The loop budget with an injected clock: deterministic, no timing.
function clocked(options: { maxLoopMs: number; maxShare: number; windowMs?: number }) {
  let now = 0;
  const budget = new LoopBudget({ ...options, now: () => now });
  return { budget, advance: (ms: number) => (now += ms) };
}
const statusOf = (run: () => unknown) => {
  try {
    run();
    return 'admitted';
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    return error.status;
  }
};

test('one request: exactly the cap is admitted, past it 422 naming the field and the cap', (t) => {
  const { budget } = clocked({ maxLoopMs: 100, maxShare: 1 });
  t.is(
    statusOf(() => budget.admit(100, 'ms').done(0)),
    'admitted',
  );
  const error = t.throws(() => budget.admit(100.001, 'iterations'), { instanceOf: HttpError })!;
  t.is(error.status, 422);
  t.is(error.options.field, 'iterations');
  t.regex(error.message, /100 ms/);
  t.regex(error.message, /--max-loop-ms/);
  t.is(
    statusOf(() => budget.admit(Number.NaN, 'x')),
    422,
    'an estimate that is not a number is refused',
  );
});

test('the share: a burst up to share × window is admitted, then 503 with Retry-After until it drains', (t) => {
  const { budget, advance } = clocked({ maxLoopMs: 10_000, maxShare: 0.5, windowMs: 1000 });
  // 500 ms of allowance: admitted while the bucket holds less than 500.
  budget.admit(300, 'ms');
  budget.admit(199, 'ms'); // 499 < 500 before it: admitted
  t.is(budget.level, 499);
  budget.admit(1, 'ms'); // 499 before it: admitted → 500
  const refused = t.throws(() => budget.admit(1, 'ms'), { instanceOf: HttpError })!;
  t.is(refused.status, 503);
  t.truthy(refused.options.headers?.['retry-after']);
  advance(1); // drains 0.5 ms: 499.5 < 500
  t.is(
    statusOf(() => budget.admit(1, 'ms')),
    'admitted',
  );
});

test('the share holds over time: a request of 4 s blocks the next until half of the time since has passed', (t) => {
  const { budget, advance } = clocked({ maxLoopMs: 10_000, maxShare: 0.5, windowMs: 1000 });
  budget.admit(4000, 'ms').done(4000);
  advance(4000); // it ran 4 s: 2000 drained, 2000 left
  const refused = t.throws(() => budget.admit(10, 'ms'), { instanceOf: HttpError })!;
  t.is(refused.options.headers?.['retry-after'], '3', '(2000 − 500) / 0.5 = 3000 ms');
  advance(2999);
  t.is(
    statusOf(() => budget.admit(10, 'ms')),
    503,
  );
  advance(2);
  t.is(
    statusOf(() => budget.admit(10, 'ms')),
    'admitted',
  );
});

test('the real time replaces the estimate', (t) => {
  const { budget } = clocked({ maxLoopMs: 10_000, maxShare: 0.5 });
  const ticket = budget.admit(100, 'ms');
  ticket.done(40);
  t.is(budget.level, 40);
  ticket.done(1000); // a second report is ignored
  t.is(budget.level, 40);
  budget.admit(100, 'ms').done(0);
  t.is(budget.level, 40);
});

test('run charges what admit and done charge, its work throwing or not, and refuses as admit does', (t) => {
  for (const ran of [30, 250, 0]) {
    const tickets = clocked({ maxLoopMs: 1000, maxShare: 0.5 });
    const runs = clocked({ maxLoopMs: 1000, maxShare: 0.5 });
    tickets.advance(10);
    runs.advance(10);
    const ticket = tickets.budget.admit(100, 'ms');
    tickets.advance(ran);
    ticket.done(ran);
    t.is(
      runs.budget.run(100, 'ms', () => runs.advance(ran)),
      ran + 10,
    );
    t.is(runs.budget.level, tickets.budget.level, `${ran} ms`);
    t.is(runs.budget.lastRunMs, ran);
    const fails = () => {
      runs.advance(ran);
      throw new Error('kernel');
    };
    t.throws(() => runs.budget.run(100, 'ms', fails), { message: 'kernel' });
    const second = tickets.budget.admit(100, 'ms');
    tickets.advance(ran);
    second.done(ran);
    t.is(runs.budget.level, tickets.budget.level, `${ran} ms, thrown`);
  }
  const { budget } = clocked({ maxLoopMs: 100, maxShare: 0.5, windowMs: 100 });
  t.is(
    statusOf(() => budget.run(100.5, 'limit', () => t.fail('ran'))),
    422,
  );
  budget.run(60, 'ms', () => {});
  t.is(budget.level, 0, 'no time passed: its real time was 0');
  budget.admit(60, 'ms');
  t.is(
    statusOf(() => budget.run(1, 'ms', () => t.fail('ran'))),
    503,
  );
});

test('time that passes while the work runs drains what it really cost, even when the estimate was low', (t) => {
  const full = clocked({ maxLoopMs: 10_000, maxShare: 1 });
  const low = full.budget.admit(1000, 'ms');
  full.advance(3000);
  low.done(3000);
  t.is(full.budget.level, 0, 'with a share of 1, work that ran alone leaves nothing behind');
  const half = clocked({ maxLoopMs: 10_000, maxShare: 0.5 });
  const ticket = half.budget.admit(100, 'ms');
  half.advance(1000);
  ticket.done(1000);
  t.is(half.budget.level, 500, '1000 ms of work in 1000 ms at a share of 0.5');
});

test('work units scale as the kernels do', (t) => {
  t.is(workUnits('primes', [1000]), 1000);
  t.is(workUnits('pbkdf2', [1000, 32]), 1000);
  t.is(workUnits('pbkdf2', [1000, 33]), 2000, 'each started block of 32 bytes is a full PBKDF2 run');
  t.is(workUnits('sleep', [250]), 250);
  t.is(workUnits('blur', [100, 50, 0]), 5000);
  t.true(workUnits('blur', [100, 50, 1000]) > workUnits('blur', [100, 50, 3]), 'a wider window costs its set-up');
});

test('the guard estimates from calibrated costs, runs admitted work and charges its real time', (t) => {
  const costs: UnitCosts = { primes: 0.001, pbkdf2: 0.01, blur: 0.0001, sleep: 1 };
  let now = 0;
  const guard = new LoopGuard(
    new LoopBudget({ maxLoopMs: 1000, maxShare: 1, now: () => now }),
    new Map([['blocking', costs]]),
  );
  t.is(guard.estimate('blocking', { kernel: 'primes', args: [1_000_000], field: 'limit' }), 1000);
  t.is(
    guard.run('blocking', { kernel: 'primes', args: [1_000_000], field: 'limit' }, () => 'ran'),
    'ran',
  );
  const error = t.throws(
    () => guard.run('blocking', { kernel: 'pbkdf2', args: [100_001, 32], field: 'iterations' }, () => t.fail('ran')),
    { instanceOf: HttpError },
  )!;
  t.is(error.status, 422);
  t.is(error.options.field, 'iterations');
  now += 10_000;
  t.throws(() => guard.estimate('cpp-sync', { kernel: 'primes', args: [1], field: 'limit' }), {
    message: /no calibrated costs/,
  });
});

test('calibration measures positive per-unit costs, sleep is 1 ms per ms', (t) => {
  let now = 0;
  // A fake clock that says every run took 5 ms: the costs are 5 ms over each probe's units.
  const costs = calibrate(js, () => (now += 5));
  t.is(costs.sleep, 1);
  t.is(costs.primes, 5 / workUnits('primes', [1_000_000]));
  t.is(costs.pbkdf2, 5 / workUnits('pbkdf2', [1000, 32]));
  t.is(costs.blur, 5 / workUnits('blur', [128, 128, 4]));
  const real = calibrate(js);
  for (const kernel of ['primes', 'pbkdf2', 'blur'] as const) t.true(real[kernel] > 0, kernel);
});
