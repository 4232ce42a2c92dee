// The workload that `npm run test:memory` (scripts/test-memory.mjs) runs under valgrind memcheck.
//
// It loads both addons directly and drives every export through its ordinary, edge and error
// paths, with small sizes because valgrind runs ~30-50x slower: sync and async kernels, bad
// arguments of every kind, cancel tokens in every state (and garbage collected), the dedicated
// pool, 16 tasks at once, and worker threads that load the addons and exit normally. It ends
// with all work settled and both pools stopped, then lets the process exit on its own, so that
// valgrind's leak check sees the addons' memory after a normal environment teardown.
//
// Plain ESM, not compiled, not an ava test (ava runs dist/test/**/*.test.js). Needs
// --expose-gc. It can run without valgrind too: `node --expose-gc test/memory/exercise.mjs`.
//
// Environment:
//   OFFLOOP_MEMORY_REPORT  file to write {"calls":{"cpp":n,"rust":n},"failures":[...]} to
//   OFFLOOP_MEMORY_CPP / OFFLOOP_MEMORY_RUST  other addon files to load (default build/...)
//
// Deliberately not exercised, because Node-API (Node 20) leaks there by design and the leak
// carries our frames: terminating a worker while one of its Promises is pending (the 8-byte
// deferred of napi_create_promise), a cancel token still reachable when its environment is
// torn down (the 40-byte v8impl::ExternalWrapper of napi_create_external; hence collect()), and
// process.exit() with work pending.
// SHA-NI: valgrind's virtual CPU does not report the SHA extensions, so under valgrind both
// addons pick the portable SHA-256 (shaBackend says which).
import assert from 'node:assert/strict';
import { pbkdf2Sync as nodePbkdf2 } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { rng } from '#rng';

const root = fileURLToPath(new URL('../../', import.meta.url));
const require = createRequire(import.meta.url);
const addonPaths = isMainThread
  ? {
      cpp: process.env.OFFLOOP_MEMORY_CPP || join(root, 'build', 'Release', 'offloop_cpp.node'),
      rust: process.env.OFFLOOP_MEMORY_RUST || join(root, 'build', 'rust', 'offloop_rust.node'),
    }
  : workerData.addonPaths;
const where = isMainThread ? 'main' : `worker ${workerData.id}`;
const started = Date.now();
const calls = { cpp: 0, rust: 0 };
const failures = [];

if (typeof globalThis.gc !== 'function') throw new Error('run node with --expose-gc');

function progress(message) {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  console.log(`[memory] ${seconds}s ${where}: ${message}`);
}

/** Records a failed expectation (the run goes on so that all work still settles). */
function fail(what, detail) {
  const line = `${where}: ${what}${detail === undefined ? '' : `: ${detail}`}`;
  failures.push(line);
  console.log(`[memory] FAIL ${line}`);
}

function check(what, fn) {
  try {
    fn();
  } catch (error) {
    fail(what, error?.message ?? String(error));
  }
}

/** Every function of the addon (and of its pool), wrapped to count calls. */
function counted(name, raw) {
  const wrap =
    (target, key) =>
    (...args) => {
      calls[name] += 1;
      return target[key](...args);
    };
  const api = { name, raw, shaBackend: raw.shaBackend, pool: {} };
  for (const key of Object.keys(raw)) if (typeof raw[key] === 'function') api[key] = wrap(raw, key);
  for (const key of Object.keys(raw.pool)) if (typeof raw.pool[key] === 'function') api.pool[key] = wrap(raw.pool, key);
  return api;
}

function loadAddons() {
  return { cpp: counted('cpp', require(addonPaths.cpp)), rust: counted('rust', require(addonPaths.rust)) };
}

// ---------------------------------------------------------------------------------------------
// Inputs and expectations

const isAbort = (error) => error?.name === 'AbortError';
const bytes = (n, seed = 1) => {
  // Big inputs repeat a pseudo-random pattern of prime length: a JS loop over megabytes takes
  // tens of seconds in valgrind's interpreter-only node.
  if (n > 65536) return new Uint8Array(Buffer.alloc(n, bytes(4093, seed)).buffer, 0, n);
  return new Uint8Array(rng(seed).bytes(n));
};
/** Pixels, generated once per size and seed (the interpreter is slow under valgrind) and copied. */
const images = new Map();
const image = (w, h, seed = 7) => {
  const key = `${w}x${h}:${seed}`;
  if (!images.has(key)) images.set(key, bytes(w * h * 4, seed));
  return images.get(key).slice();
};
/** A Uint8Array at a non-zero offset inside a bigger buffer (the copy must honour the offset). */
const offsetView = (n, seed) => {
  const big = bytes(n + 19, seed);
  return new Uint8Array(big.buffer, 11, n);
};
function detached(n = 8, Ctor = Uint8Array) {
  const view = new Ctor(n);
  structuredClone(view.buffer, { transfer: [view.buffer] });
  assert.equal(view.buffer.byteLength, 0);
  return view;
}
const hex = (buf) => Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('hex');

/** Results by case name, shared by both addons so that their outputs are compared. */
const seen = new Map();
function agree(caseName, value) {
  const text = value instanceof Uint8Array ? hex(value) : JSON.stringify(value);
  if (!seen.has(caseName)) seen.set(caseName, text);
  else if (seen.get(caseName) !== text) fail(`${caseName}: the addons disagree`);
}

const PRIMES = [
  [0, 0],
  [1, 0],
  [2, 1],
  [3, 2],
  [10, 4],
  [1000, 168],
  [65537, 6543],
  [100000, 9592],
];
const LONG = bytes(100, 3); // > 64 bytes: the HMAC key is its SHA-256
const PBKDF2 = [
  ['empty password and salt', new Uint8Array(0), new Uint8Array(0), 1, 32],
  ['empty password', new Uint8Array(0), bytes(16, 4), 2, 32],
  ['empty salt', bytes(8, 5), new Uint8Array(0), 2, 32],
  ['64-byte password', bytes(64, 6), bytes(16, 7), 3, 32],
  ['100-byte password', LONG, bytes(16, 8), 3, 48],
  ['keylen 1', bytes(8, 9), bytes(8, 10), 2, 1],
  ['keylen 33', bytes(8, 9), bytes(8, 10), 2, 33],
  ['keylen 1024', bytes(8, 11), bytes(8, 12), 2, 1024],
  ['300 iterations', bytes(8, 13), bytes(8, 14), 300, 32],
  ['long salt', bytes(8, 15), bytes(200, 16), 2, 64],
];
const BLUR = [
  ['1x1 r0', 1, 1, 0],
  ['1x1 r1', 1, 1, 1],
  ['1x1 r65535', 1, 1, 65535],
  ['3x2 r10 (radius >= size)', 3, 2, 10],
  ['2x5 r5 (radius = height)', 2, 5, 5],
  ['17x9 r3', 17, 9, 3],
  ['64x1 r4', 64, 1, 4],
  ['1x64 r4', 1, 64, 4],
  ['256x256 r5', 256, 256, 5],
];

function pbkdf2Expected(password, salt, iterations, keylen) {
  return nodePbkdf2(password, salt, iterations, keylen, 'sha256').toString('hex');
}

// ---------------------------------------------------------------------------------------------
// Sections

function syncKernels(a) {
  for (const [limit, count] of PRIMES)
    check(`${a.name} primesSync(${limit})`, () => assert.equal(a.primesSync(limit), count));
  for (const [label, pw, salt, it, keylen] of PBKDF2) {
    check(`${a.name} pbkdf2Sync ${label}`, () =>
      assert.equal(hex(a.pbkdf2Sync(pw, salt, it, keylen)), pbkdf2Expected(pw, salt, it, keylen)),
    );
  }
  check(`${a.name} pbkdf2Sync offset views`, () => {
    const pw = offsetView(70, 21);
    const salt = offsetView(9, 22);
    assert.equal(hex(a.pbkdf2Sync(pw, salt, 2, 20)), pbkdf2Expected(pw, salt, 2, 20));
  });
  for (const [label, w, h, r] of BLUR) {
    check(`${a.name} blurSync ${label}`, () => {
      const out = a.blurSync(image(w, h), w, h, r);
      assert.equal(out.length, w * h * 4);
      if (r === 0) assert.equal(hex(out), hex(image(w, h)));
      agree(`blur ${label}`, out);
    });
  }
  check(`${a.name} blurSync Uint8ClampedArray`, () => {
    const src = new Uint8ClampedArray(image(5, 4).buffer);
    agree('blur clamped 5x4 r2', a.blurSync(src, 5, 4, 2));
  });
  check(`${a.name} blurSync offset view`, () =>
    agree('blur offset 6x3 r1', a.blurSync(offsetView(6 * 3 * 4, 23), 6, 3, 1)),
  );
  // >= 1 MiB: the huge-page mmap path of the native allocator (valgrind checks accesses there,
  // but its leak check does not see mmap'ed memory).
  check(`${a.name} blurSync 512x512 r1 (mmap path)`, () =>
    agree('blur 512x512 r1', a.blurSync(image(512, 512, 9), 512, 512, 1)),
  );
  check(`${a.name} sleepSync`, () => {
    assert.equal(a.sleepSync(0), undefined);
    assert.equal(a.sleepSync(2), undefined);
  });
}

async function asyncKernels(a, exec, label) {
  const jobs = [];
  for (const [limit, count] of PRIMES) jobs.push(exec.primes(limit).then((n) => assert.equal(n, count)));
  for (const [, pw, salt, it, keylen] of PBKDF2) {
    const expected = pbkdf2Expected(pw, salt, it, keylen);
    jobs.push(exec.pbkdf2(pw, salt, it, keylen).then((out) => assert.equal(hex(out), expected)));
  }
  // Inputs are copied before the call returns: scribbling on them (or detaching them) at once
  // must not change the result.
  const pw = bytes(40, 31);
  const salt = bytes(12, 32);
  const expected = pbkdf2Expected(pw, salt, 5, 40);
  jobs.push(exec.pbkdf2(pw, salt, 5, 40).then((out) => assert.equal(hex(out), expected)));
  pw.fill(0);
  structuredClone(salt.buffer, { transfer: [salt.buffer] });
  for (const [caseName, w, h, r] of BLUR) {
    const src = image(w, h);
    jobs.push(exec.blur(src, w, h, r).then((out) => agree(`blur ${caseName}`, out)));
    src.fill(255);
  }
  jobs.push(
    exec.blur(new Uint8ClampedArray(image(5, 4).buffer), 5, 4, 2).then((out) => agree('blur clamped 5x4 r2', out)),
  );
  jobs.push(exec.blur(offsetView(6 * 3 * 4, 23), 6, 3, 1).then((out) => agree('blur offset 6x3 r1', out)));
  jobs.push(exec.sleep(0).then((v) => assert.equal(v, undefined)));
  jobs.push(exec.sleep(3).then((v) => assert.equal(v, undefined)));
  jobs.push(exec.noop().then((v) => assert.equal(v, undefined)));
  jobs.push(exec.noop(undefined));
  const results = await Promise.allSettled(jobs);
  for (const [i, r] of results.entries()) {
    if (r.status === 'rejected') fail(`${a.name} ${label} async job ${i}`, r.reason?.message ?? r.reason);
  }
}

/** Bad arguments: every argument of every export, with every kind of wrong value. */
function badInputs(a, other) {
  const num = (name, min, max) => ({ kind: 'number', name, min, max });
  const byteArg = (name, clamped = false) => ({ kind: 'bytes', name, clamped });
  const specs = {
    primes: { args: [num('limit', 0, 2 ** 32 - 1)], good: [10] },
    pbkdf2: {
      args: [byteArg('password'), byteArg('salt'), num('iterations', 1, 1e8), num('keylen', 1, 1024)],
      good: [bytes(4), bytes(4), 1, 4],
    },
    blur: {
      args: [byteArg('rgba', true), num('width', 1, 65535), num('height', 1, 65535), num('radius', 0, 65535)],
      good: [bytes(4), 1, 1, 0],
    },
    sleep: { args: [num('ms', 0, 60000)], good: [0] },
    noop: { args: [], good: [] },
  };
  const badNumbers = (s) => [
    ['a string', '1', TypeError],
    ['undefined', undefined, TypeError],
    ['null', null, TypeError],
    ['an object', {}, TypeError],
    ['a Number object', new Number(1), TypeError],
    ['a bigint', 1n, TypeError],
    ['a boolean', true, TypeError],
    ['a symbol', Symbol('n'), TypeError],
    ['NaN', NaN, RangeError],
    ['Infinity', Infinity, RangeError],
    ['-Infinity', -Infinity, RangeError],
    ['a fraction', s.min + 0.5, RangeError],
    ['min - 1', s.min - 1, RangeError],
    ['max + 1', s.max + 1, RangeError],
    ['2^53', 2 ** 53, RangeError],
  ];
  const badBytes = (s) => [
    ['a string', 'abcd', TypeError],
    ['an array', [1, 2, 3, 4], TypeError],
    ['an ArrayBuffer', new ArrayBuffer(4), TypeError],
    ['a Uint16Array', new Uint16Array(2), TypeError],
    ['an Int8Array', new Int8Array(4), TypeError],
    ['a Float64Array', new Float64Array(1), TypeError],
    ['a DataView', new DataView(new ArrayBuffer(4)), TypeError],
    ['an array-like', { length: 4, 0: 1 }, TypeError],
    ['null', null, TypeError],
    ['undefined', undefined, TypeError],
    ['detached', detached(4), TypeError],
    ...(s.clamped
      ? [['a detached Uint8ClampedArray', detached(4, Uint8ClampedArray), TypeError]]
      : [['a Uint8ClampedArray', new Uint8ClampedArray(4), TypeError]]),
  ];
  const badTokens = [
    ['null', null],
    ['a plain object', {}],
    ['a number', 1],
    ['a string', 'token'],
    ['a function', () => {}],
    ['a symbol', Symbol('t')],
    ['an array', []],
    [`a ${other.name} token`, other.createCancelToken()],
  ];
  let thrown = 0;
  const expectThrow = (what, fn, Ctor, argName) => {
    let result;
    try {
      result = fn();
    } catch (error) {
      thrown += 1;
      if (!(error instanceof Ctor)) fail(what, `threw ${error?.name}: ${error?.message}, wanted ${Ctor.name}`);
      else if (error.code !== (Ctor === TypeError ? 'ERR_INVALID_ARG_TYPE' : 'ERR_OUT_OF_RANGE'))
        fail(what, `code ${error.code}`);
      else if (argName && !error.message.startsWith(`The "${argName}" argument`))
        fail(what, `message ${error.message}`);
      return;
    }
    fail(what, 'did not throw');
    if (result instanceof Promise) result.catch(() => {}); // keep going; it settles by itself
  };
  const targets = (kernel) =>
    [
      [`${kernel}Sync`, a[`${kernel}Sync`], false],
      [kernel, a[kernel], true],
      [`pool.${kernel}`, a.pool[kernel], true],
    ].filter(([, fn]) => fn !== undefined);

  for (const [kernel, spec] of Object.entries(specs)) {
    for (const [fnName, fn, hasToken] of targets(kernel)) {
      spec.args.forEach((s, i) => {
        for (const [label, value, Ctor] of s.kind === 'number' ? badNumbers(s) : badBytes(s)) {
          const args = [...spec.good];
          args[i] = value;
          expectThrow(`${a.name} ${fnName}: ${s.name} = ${label}`, () => fn(...args), Ctor, s.name);
        }
      });
      if (spec.args.length > 0) expectThrow(`${a.name} ${fnName}()`, () => fn(), TypeError, spec.args[0].name);
      if (hasToken) {
        for (const [label, token] of badTokens)
          expectThrow(`${a.name} ${fnName}: token = ${label}`, () => fn(...spec.good, token), TypeError, 'token');
      }
    }
  }
  // blur: size checks, in argument order (dimensions before the rgba length).
  for (const [fnName, fn, hasToken] of targets('blur')) {
    expectThrow(`${a.name} ${fnName}: rgba too short`, () => fn(bytes(3), 1, 1, 0), RangeError, 'rgba');
    expectThrow(`${a.name} ${fnName}: rgba too long`, () => fn(bytes(12), 1, 2, 0), RangeError, 'rgba');
    expectThrow(`${a.name} ${fnName}: empty rgba`, () => fn(new Uint8Array(0), 1, 1, 0), RangeError, 'rgba');
    expectThrow(`${a.name} ${fnName}: width*height > 2^26`, () => fn(bytes(4), 65535, 65535, 0), RangeError);
    expectThrow(
      `${a.name} ${fnName}: bad radius before rgba length`,
      () => fn(bytes(3), 1, 1, -1),
      RangeError,
      'radius',
    );
    if (hasToken)
      expectThrow(
        `${a.name} ${fnName}: bad token after good bytes`,
        () => fn(bytes(4), 1, 1, 0, {}),
        TypeError,
        'token',
      );
  }
  for (const fnName of ['pbkdf2', 'pool.pbkdf2']) {
    const fn = fnName === 'pbkdf2' ? a.pbkdf2 : a.pool.pbkdf2;
    expectThrow(
      `${a.name} ${fnName}: bad token after big password`,
      () => fn(bytes(5000), bytes(300), 1, 1024, 'x'),
      TypeError,
      'token',
    );
    expectThrow(
      `${a.name} ${fnName}: bad keylen after big password`,
      () => fn(bytes(5000), bytes(300), 1, 1025),
      RangeError,
      'keylen',
    );
  }
  // cancel(): a token is required.
  for (const [label, token] of [['undefined', undefined], ...badTokens]) {
    expectThrow(`${a.name} cancel(${label})`, () => a.cancel(token), TypeError, 'token');
  }
  expectThrow(`${a.name} cancel()`, () => a.cancel(), TypeError, 'token');
  // pool.start(threads, nice)
  for (const [label, value, Ctor] of badNumbers({ min: 1, max: 256 })) {
    expectThrow(`${a.name} pool.start: threads = ${label}`, () => a.pool.start(value, 10), Ctor, 'threads');
  }
  for (const [label, value, Ctor] of badNumbers({ min: 0, max: 19 })) {
    expectThrow(`${a.name} pool.start: nice = ${label}`, () => a.pool.start(1, value), Ctor, 'nice');
  }
  check(`${a.name} pool not started by bad arguments`, () => assert.equal(a.pool.stats().threads, 0));
  return thrown;
}

async function expectAbort(what, promise) {
  try {
    await promise;
    fail(what, 'resolved, wanted an AbortError');
  } catch (error) {
    if (!isAbort(error)) fail(what, `rejected with ${error?.name}: ${error?.message}`);
  }
}

/** Either outcome is fine (a race under valgrind's scheduler), but it must settle. */
async function abortOrResult(what, promise) {
  try {
    await promise;
    return 'ran';
  } catch (error) {
    if (!isAbort(error)) fail(what, `rejected with ${error?.name}: ${error?.message}`);
    return 'aborted';
  }
}

const kernelsWithToken = (exec) => [
  ['primes', (t) => exec.primes(100000, t)],
  ['pbkdf2', (t) => exec.pbkdf2(bytes(70), bytes(9), 50, 64, t)],
  ['blur', (t) => exec.blur(image(16, 16), 16, 16, 2, t)],
  ['sleep', (t) => exec.sleep(5, t)],
  ['noop', (t) => exec.noop(t)],
];

/** Cancel tokens on one executor (`exec`: the addon, i.e. libuv's threadpool, or its pool). */
async function tokens(a, exec, label, blockers) {
  const name = `${a.name} ${label}`;
  // Pre-cancelled: rejects at once, queues nothing.
  for (const [kernel, start] of kernelsWithToken(exec)) {
    const t = a.createCancelToken();
    a.cancel(t);
    a.cancel(t);
    await expectAbort(`${name} ${kernel}: pre-cancelled token`, start(t));
  }
  // Cancelled while queued behind `blockers` sleeps that fill every thread.
  const blocking = Array.from({ length: blockers }, () => exec.sleep(300));
  const queued = kernelsWithToken(exec).map(([kernel, start]) => {
    const t = a.createCancelToken();
    const p = start(t);
    // A token serves one call at a time.
    check(`${name} ${kernel}: token attached to a pending call`, () =>
      assert.throws(
        () => exec.noop(t),
        (e) => e instanceof TypeError && e.code === 'ERR_INVALID_ARG_TYPE',
      ),
    );
    check(`${name} ${kernel}: attached token on the other executor`, () =>
      assert.throws(
        () => (exec === a ? a.pool : a).noop(t),
        (e) => e instanceof TypeError,
      ),
    );
    return [kernel, t, expectAbort(`${name} ${kernel}: cancelled while queued`, p)];
  });
  const survivor = exec.primes(1000, a.createCancelToken()); // queued with a token, never cancelled
  for (const [, t] of queued) a.cancel(t);
  for (const [kernel, t, checked] of queued) {
    await checked;
    a.cancel(t); // after it settled: harmless
    await expectAbort(`${name} ${kernel}: the cancelled token used again`, exec.noop(t));
  }
  await Promise.all(blocking);
  assert.equal(await survivor, 168);

  // Cancelled while running: long kernels that poll the flag.
  const running = [
    ['sleep', (t) => exec.sleep(20000, t)],
    ['primes', (t) => exec.primes(4294967295, t)],
    ['pbkdf2', (t) => exec.pbkdf2(bytes(8), bytes(8), 100000000, 32, t)],
    ['blur', (t) => exec.blur(image(1024, 1024, 5), 1024, 1024, 8, t)], // 4 MiB: mmap'ed copy
  ];
  for (const [kernel, start] of running) {
    const t = a.createCancelToken();
    const p = start(t);
    await delay(kernel === 'blur' ? 30 : 150);
    a.cancel(t);
    const outcome = await abortOrResult(`${name} ${kernel}: cancelled while running`, p);
    if (kernel !== 'blur' && outcome !== 'aborted')
      fail(`${name} ${kernel}: cancelled while running`, 'finished instead');
    a.cancel(t);
  }

  // Cancel after completion, then reuse: a settled, uncancelled token serves another call.
  for (const [kernel, start] of kernelsWithToken(exec)) {
    const t = a.createCancelToken();
    await start(t);
    await start(t); // reused after it settled
    a.cancel(t);
    a.cancel(t);
    await expectAbort(`${name} ${kernel}: token cancelled after completion, reused`, start(t));
  }
}

/** Counts tokens that the garbage collector has reclaimed. */
let collectedTokens = 0;
const tokenRegistry = new FinalizationRegistry(() => (collectedTokens += 1));

/**
 * Full collections, with turns of the event loop between them for finalizers (Node-API runs
 * some on the next tick). Called from frames that never held a token: a suspended async
 * function keeps every local of its frame alive, and an external still alive when the
 * environment is torn down leaks Node's own 40-byte v8impl::ExternalWrapper (Node 20).
 */
async function collect() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Starts calls whose tokens only the calls hold (no JS reference survives this function). */
function callsWithDroppedTokens(a) {
  for (let i = 0; i < 200; i++) tokenRegistry.register(a.createCancelToken(), null);
  const pending = [];
  for (let i = 0; i < 8; i++) {
    const tokens = [a.createCancelToken(), a.createCancelToken(), a.createCancelToken(), a.createCancelToken()];
    for (const t of tokens) tokenRegistry.register(t, null);
    pending.push(
      a.sleep(20, tokens[0]),
      a.pool.sleep(20, tokens[1]),
      a.pool.noop(tokens[2]),
      a.blur(image(8, 8), 8, 8, 1, tokens[3]),
    ); // blur: an external buffer result
  }
  return pending;
}

async function usedThenDropped(a) {
  for (let i = 0; i < 16; i++) {
    const t = a.createCancelToken();
    tokenRegistry.register(t, null);
    await a.noop(t);
    if (i % 4 === 0) await a.pool.noop(t);
  }
}

/** Tokens (and results) dropped without cancel and garbage collected, some while pending. */
async function droppedTokens(a) {
  const before = collectedTokens;
  const pending = callsWithDroppedTokens(a);
  globalThis.gc(); // the tokens of pending calls are collected while their calls run
  await delay(1);
  globalThis.gc();
  await Promise.all(pending);
  pending.length = 0;
  await usedThenDropped(a);
  await collect();
  const n = collectedTokens - before;
  if (n === 0) fail(`${a.name}: no dropped token was garbage collected`);
  return n;
}

// A pool's settings and load from stats() (it also reports what it has done: completed, times).
function settings(a) {
  const { threads, nice, policy, queued, running } = a.pool.stats();
  return { threads, nice, policy, queued, running };
}

async function pool(a) {
  const name = `${a.name} pool`;
  const cpus = availableParallelism();
  check(`${name} stats before start`, () => {
    assert.deepEqual(settings(a), { threads: 0, nice: 0, policy: null, queued: 0, running: 0 });
    assert.deepEqual(a.pool.stats().waitTime, { p50: 0, p99: 0, max: 0 });
  });
  a.pool.stop(); // before start: harmless
  a.pool.start(2, 10);
  a.pool.start(2, 10, 'idle'); // idempotent: 'idle' is the default policy
  check(`${name} start with other settings`, () => assert.throws(() => a.pool.start(3, 10), Error));
  check(`${name} start with other nice`, () => assert.throws(() => a.pool.start(2, 11), Error));
  check(`${name} start with another policy`, () => assert.throws(() => a.pool.start(2, 10, 'batch'), Error));
  check(`${name} start with a bad policy`, () => assert.throws(() => a.pool.start(2, 10, 'fast'), RangeError));
  check(`${name} stats`, () =>
    assert.deepEqual(settings(a), { threads: 2, nice: 10, policy: 'idle', queued: 0, running: 0 }),
  );

  await asyncKernels(a, a.pool, 'pool');
  await tokens(a, a.pool, 'pool', 2);

  // stop() with tasks running and queued: all reject with AbortError; tokens stay usable.
  const t = a.createCancelToken();
  const pending = [
    a.pool.sleep(20000),
    a.pool.sleep(20000, a.createCancelToken()),
    a.pool.primes(4294967295),
    a.pool.blur(image(64, 64), 64, 64, 3),
    a.pool.noop(t),
  ];
  await delay(100);
  check(`${name} stats with work pending`, () => {
    const s = a.pool.stats();
    assert.equal(s.queued + s.running, pending.length);
  });
  a.pool.stop();
  await Promise.all(pending.map((p, i) => expectAbort(`${name} task ${i} pending at stop()`, p)));
  a.cancel(t); // its call settled at stop(): harmless
  a.pool.stop();
  check(`${name} stats after stop`, () => assert.equal(a.pool.stats().threads, 0));

  // A task restarts a stopped pool with the defaults.
  assert.equal(await a.pool.primes(1000), 168);
  check(`${name} restarted by a task`, () => {
    assert.deepEqual(settings(a), { threads: cpus, nice: 10, policy: 'idle', queued: 0, running: 0 });
    assert.equal(a.pool.stats().completed, 1);
  });
  a.pool.stop();
  // start() after stop, with other settings.
  a.pool.start(1, 0, 'normal');
  assert.equal(await a.pool.primes(10), 4);
  a.pool.stop();
  a.pool.start(3, 19, 'batch');
  await Promise.all([a.pool.noop(), a.pool.sleep(1), a.pool.pbkdf2(bytes(3), bytes(3), 1, 1)]);
  a.pool.stop();
  // stop() with only queued work, and stop() right after start().
  a.pool.start(1, 5);
  const blocked = [
    a.pool.sleep(20000),
    a.pool.noop(),
    a.pool.noop(a.createCancelToken()),
    a.pool.pbkdf2(bytes(100), bytes(10), 10, 1024),
  ];
  a.pool.stop();
  await Promise.all(blocked.map((p, i) => expectAbort(`${name} task ${i} at stop() right after start()`, p)));
  a.pool.start(2, 10);
  a.pool.stop();
}

async function concurrency(addons) {
  const jobs = [];
  for (const a of addons) {
    const t = a.createCancelToken();
    jobs.push(
      a.primes(100000).then((n) => assert.equal(n, 9592)),
      a.pool.primes(100000).then((n) => assert.equal(n, 9592)),
      a.pbkdf2(bytes(8), bytes(8), 20, 64).then((out) => agree('concurrent pbkdf2', out)),
      a.pool.pbkdf2(bytes(8), bytes(8), 20, 64).then((out) => agree('concurrent pbkdf2', out)),
      a.blur(image(64, 64), 64, 64, 3).then((out) => agree('concurrent blur', out)),
      a.pool.blur(image(64, 64), 64, 64, 3).then((out) => agree('concurrent blur', out)),
      a.sleep(10),
      a.pool.sleep(10),
      a.noop(),
      a.pool.noop(),
      abortOrResult(`${a.name} concurrent cancel`, a.pool.sleep(50, t)),
    );
    setTimeout(() => a.cancel(t), 5);
  }
  const settled = await Promise.allSettled(jobs);
  for (const [i, r] of settled.entries()) {
    if (r.status === 'rejected') fail(`concurrent job ${i}`, r.reason?.message ?? r.reason);
  }
  return jobs.length;
}

/** Everything, on one addon; `other` supplies foreign tokens. */
async function exerciseAddon(a, other, { threadpool }) {
  progress(`${a.name}: sync kernels (shaBackend ${a.shaBackend})`);
  syncKernels(a);
  progress(`${a.name}: bad inputs`);
  const thrown = badInputs(a, other);
  progress(`${a.name}: ${thrown} bad-argument calls threw; async kernels on libuv's threadpool`);
  await asyncKernels(a, a, 'threadpool');
  progress(`${a.name}: cancel tokens on libuv's threadpool`);
  await tokens(a, a, 'threadpool', threadpool);
  progress(`${a.name}: tokens dropped and collected`);
  const collected = await droppedTokens(a);
  progress(`${a.name}: ${collected} of 248 dropped tokens collected`);
  a.pool.stop();
  progress(`${a.name}: the dedicated pool`);
  await pool(a);
}

// ---------------------------------------------------------------------------------------------
// Worker threads

/** A worker: loads both addons, uses them, and exits normally (its loop drains). */
async function workerMain() {
  const addons = loadAddons();
  for (const a of Object.values(addons)) await workerUse(a, a === addons.cpp ? addons.rust : addons.cpp);
  await collect(); // no token may outlive the worker (see collect())
  parentPort.postMessage({ calls, failures });
}

async function workerUse(a, other) {
  syncKernels(a);
  badInputs(a, other);
  await asyncKernels(a, a, 'worker threadpool');
  a.pool.start(2, 10);
  await asyncKernels(a, a.pool, 'worker pool');
  await workerCancel(a);
  await droppedTokens(a);
  // Some workers stop their pools; the others leave them started and idle, for the
  // environment cleanup hook to stop at worker exit.
  if (workerData.stopPools) a.pool.stop();
}

async function workerCancel(a) {
  const t = a.createCancelToken();
  const v = a.createCancelToken();
  const p = expectAbort(`${a.name} worker pool sleep cancelled while running`, a.pool.sleep(20000, t));
  const q = expectAbort(`${a.name} worker sleep cancelled while running`, a.sleep(20000, v)); // libuv's threadpool
  await delay(50);
  a.cancel(t);
  await p;
  a.pool.stop();
  const u = a.createCancelToken();
  // Restarts the pool with the defaults.
  const r = expectAbort(
    `${a.name} worker restarted pool's primes cancelled while running`,
    a.pool.primes(4294967295, u),
  );
  await delay(50);
  a.cancel(u);
  a.cancel(v);
  await r;
  await q;
  a.pool.start(2, 10);
}

function runWorker(id, stopPools) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(import.meta.url), { workerData: { id, stopPools, addonPaths } });
    let report;
    worker.on('message', (message) => (report = message));
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code !== 0) fail(`worker ${id}`, `exit code ${code}`);
      if (report === undefined) return reject(new Error(`worker ${id} sent no report`));
      calls.cpp += report.calls.cpp;
      calls.rust += report.calls.rust;
      failures.push(...report.failures);
      resolve();
    });
  });
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const threadpool = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  // First a worker that loads the addons before this thread does: at its exit Node unloads
  // (dlclose) an addon that no other environment holds — the C++ one; the Rust cdylib stays
  // mapped (thread-local destructors make it non-unloadable).
  progress('worker 0: the first to load the addons, leaves its pools to teardown');
  await runWorker(0, false);
  progress(`loading ${addonPaths.cpp} and ${addonPaths.rust} (UV_THREADPOOL_SIZE ${threadpool})`);
  const addons = loadAddons();
  check('shaBackend', () => assert.equal(addons.cpp.shaBackend, addons.rust.shaBackend));
  await exerciseAddon(addons.cpp, addons.rust, { threadpool });
  await exerciseAddon(addons.rust, addons.cpp, { threadpool });
  progress('16+ tasks at once on both addons and both executors');
  const n = await concurrency(Object.values(addons));
  progress(`${n} concurrent tasks settled; worker threads (one stops its pools, one leaves them to teardown)`);
  await Promise.all([runWorker(1, true), runWorker(2, false)]);
  for (const a of Object.values(addons)) a.pool.stop();
  await collect();
  progress(
    `done: ${calls.cpp} cpp calls, ${calls.rust} rust calls, ${failures.length} failed expectations; exiting naturally`,
  );
  if (process.env.OFFLOOP_MEMORY_REPORT)
    writeFileSync(process.env.OFFLOOP_MEMORY_REPORT, JSON.stringify({ calls, failures }));
  if (failures.length > 0) process.exitCode = 1;
}

// A stray rejection is a failed expectation, not a crash: the run goes on so that the rest of
// the work still settles (and a DOMException would not survive a worker's 'error' event).
process.on('unhandledRejection', (reason) =>
  fail('unhandled rejection', reason?.stack ?? `${reason?.name}: ${reason?.message}`),
);

if (isMainThread) {
  main().catch((error) => {
    console.error(error);
    process.exitCode = 1;
  });
} else {
  workerMain().catch((error) => {
    failures.push(`${where}: ${error?.stack ?? error}`);
    parentPort.postMessage({ calls, failures });
  });
}
