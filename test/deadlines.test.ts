import { once } from 'node:events';
import test from 'ava';
import { Deadlines } from '../src/server/deadlines.js';
import { Exchange } from '../src/server/http.js';

/** Counts the timers armed while `body` runs (synchronously: no other test's code runs meanwhile). */
function timersArmedDuring(body: () => void): number {
  const original = globalThis.setTimeout;
  let armed = 0;
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    armed++;
    return original(...args);
  }) as typeof setTimeout;
  try {
    body();
  } finally {
    globalThis.setTimeout = original;
  }
  return armed;
}

test('deadlines expire in arrival order, each once, never before its time', async (t) => {
  const expired: { item: number; late: number }[] = [];
  const deadlines = new Deadlines<number>(30, (item) => {
    expired.push({ item, late: performance.now() - (starts[item]! + 30) });
  });
  const starts: number[] = [];
  for (let i = 0; i < 5; i++) {
    starts.push(performance.now());
    deadlines.arm(i, starts[i]!);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await t.notThrowsAsync(async () => {
    while (expired.length < 5) await new Promise((resolve) => setTimeout(resolve, 10));
  });
  t.deepEqual(
    expired.map((e) => e.item),
    [0, 1, 2, 3, 4],
  );
  t.true(
    expired.every((e) => e.late >= 0),
    JSON.stringify(expired),
  );
  t.is(deadlines.size, 0);
  t.is(deadlines.timerAt, undefined, 'no timer is left once none is armed');
});

test('a disarmed deadline never expires; disarming twice or after expiry does nothing', async (t) => {
  const expired: string[] = [];
  const deadlines = new Deadlines<string>(20, (item) => expired.push(item));
  const a = deadlines.arm('a', performance.now());
  const b = deadlines.arm('b', performance.now());
  const c = deadlines.arm('c', performance.now());
  deadlines.disarm(a);
  deadlines.disarm(c);
  deadlines.disarm(a);
  t.is(deadlines.size, 1);
  while (expired.length < 1) await new Promise((resolve) => setTimeout(resolve, 10));
  await new Promise((resolve) => setTimeout(resolve, 40));
  t.deepEqual(expired, ['b']);
  deadlines.disarm(b);
  t.is(deadlines.size, 0);
});

test('one timer serves every deadline: arming a thousand, or a stream of quick ones, arms it once', (t) => {
  const deadlines = new Deadlines<number>(60_000, () => t.fail('nothing here expires'));
  const armed = timersArmedDuring(() => {
    const handles = Array.from({ length: 1000 }, (_, i) => deadlines.arm(i, performance.now()));
    // Quick requests: each arrives and ends while older ones are still armed.
    for (let i = 0; i < 1000; i++) deadlines.disarm(deadlines.arm(i, performance.now()));
    for (const handle of handles) deadlines.disarm(handle);
  });
  t.is(armed, 1);
  t.is(deadlines.size, 0);
  t.is(deadlines.timerAt, undefined);
});

test('when the oldest leaves early, the timer re-arms for the next, which still expires on time', async (t) => {
  const expired: number[] = [];
  const deadlines = new Deadlines<number>(40, (item) => expired.push(item));
  const first = deadlines.arm(1, performance.now());
  const firstAt = deadlines.timerAt!;
  await new Promise((resolve) => setTimeout(resolve, 15));
  const secondStart = performance.now();
  deadlines.arm(2, secondStart);
  deadlines.disarm(first);
  t.is(deadlines.timerAt, firstAt, 'the timer is not re-armed on every disarm');
  while (expired.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
  t.deepEqual(expired, [2]);
  t.true(performance.now() >= secondStart + 40);
});

/** A stand-in for uWS's HttpResponse and HttpRequest: enough for an Exchange's life. */
function fakeUws(query = '') {
  let onAborted: (() => void) | undefined;
  let alive = true;
  const calls = { onAborted: 0, cork: 0, corked: false, writesUncorked: 0, status: '' };
  const res = {
    onAborted(callback: () => void) {
      calls.onAborted++;
      onAborted = callback;
    },
    cork: (f: () => void) => {
      calls.cork++;
      calls.corked = true;
      f();
      calls.corked = false;
    },
    writeStatus(status: string) {
      calls.status = status;
      if (!calls.corked) calls.writesUncorked++;
      return res;
    },
    writeHeader() {
      return res;
    },
    end() {},
  };
  const live =
    <T>(value: T) =>
    () => {
      if (!alive) throw new Error('uWS.HttpRequest must not be accessed after await');
      return value;
    };
  const req = {
    getMethod: live('get'),
    getUrl: live('/x'),
    getQuery: live(query),
    getParameter: live('p'),
    getHeader: live(''),
  };
  return {
    res: res as never,
    req: req as never,
    calls,
    leave: () => onAborted!(),
    kill: () => {
      alive = false;
    },
  };
}

/** Counts the AbortControllers made while `body` runs. */
function controllersMadeDuring(body: () => void): number {
  const Original = globalThis.AbortController;
  let made = 0;
  globalThis.AbortController = class extends Original {
    constructor() {
      super();
      made++;
    }
  };
  try {
    body();
  } finally {
    globalThis.AbortController = Original;
  }
  return made;
}

test('an exchange nobody asks for a signal makes no AbortController, even when stopped', (t) => {
  const made = controllersMadeDuring(() => {
    for (const reason of ['client', 'timeout', 'shutdown', undefined] as const) {
      const uws = fakeUws();
      const ex = new Exchange(uws.res, uws.req, 0, 'GET');
      ex.json(200, { pong: true });
      ex.handlerReturned();
      if (reason) ex.stop(reason);
    }
  });
  t.is(made, 0);
});

test('a signal asked for before the stop aborts once, with the stop reason', (t) => {
  for (const reason of ['client', 'timeout', 'shutdown'] as const) {
    const uws = fakeUws();
    const ex = new Exchange(uws.res, uws.req, 0, 'GET');
    ex.handlerReturned(); // the client may leave from now on
    const signal = ex.signal;
    t.is(ex.signal, signal, 'the same signal each time');
    let aborts = 0;
    signal.addEventListener('abort', () => aborts++);
    t.false(signal.aborted);
    if (reason === 'client') uws.leave();
    else ex.stop(reason);
    ex.stop('shutdown');
    t.true(signal.aborted);
    t.is(signal.reason, reason);
    t.is(aborts, 1);
  }
});

test('a request stopped before anyone asked for its signal hands out one already aborted, with the reason', (t) => {
  for (const reason of ['client', 'timeout', 'shutdown'] as const) {
    const uws = fakeUws();
    const ex = new Exchange(uws.res, uws.req, 0, 'GET');
    ex.handlerReturned();
    if (reason === 'client') uws.leave();
    else ex.stop(reason);
    t.true(ex.signal.aborted);
    t.is(ex.signal.reason, reason);
    t.is(ex.signal, ex.signal);
  }
});

test('what a route reads is copied before the first await: the query is parsed later from the copy', async (t) => {
  const uws = fakeUws('limit=10&x=%20y');
  const ex = new Exchange(uws.res, uws.req, 1, 'GET');
  uws.kill(); // uWS's HttpRequest dies at the first await
  await Promise.resolve();
  t.is(ex.query.get('limit'), '10');
  t.is(ex.query.get('x'), ' y');
  t.deepEqual(ex.params, ['p']);
  t.is(ex.url, '/x');
  const client = fakeUws();
  const leaving = new Exchange(client.res, client.req, 0, 'GET');
  leaving.handlerReturned();
  const aborted = once(leaving.signal, 'abort');
  client.leave();
  await aborted;
  t.is(leaving.status, 'aborted');
  t.true(leaving.answeredAt >= leaving.startedAt);
});

test("an answer inside uWS's handler needs neither onAborted nor cork; one after it gets both", (t) => {
  const quick = fakeUws();
  const answered = new Exchange(quick.res, quick.req, 0, 'GET');
  answered.json(200, { pong: true });
  answered.handlerReturned();
  t.deepEqual(quick.calls, {
    onAborted: 0,
    cork: 0,
    corked: false,
    writesUncorked: 1, // uWS corks the socket while its handler runs
    status: '200 OK\r\ncontent-type: application/json',
  });
  const slow = fakeUws();
  const atWork = new Exchange(slow.res, slow.req, 0, 'GET');
  atWork.handlerReturned();
  t.is(slow.calls.onAborted, 1, 'watched for the client leaving once its handler returned');
  atWork.json(504, {});
  t.is(slow.calls.cork, 1);
  t.is(slow.calls.writesUncorked, 0);
  t.is(slow.calls.status, '504 Gateway Timeout\r\ncontent-type: application/json');
});
