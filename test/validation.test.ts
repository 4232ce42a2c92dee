import test from 'ava';
import { loadAddon } from '../src/engines/addon.js';
import { cpp, js, rust, workers } from '../src/index.js';
import { asyncEngines, syncEngines } from './helpers/engines.js';
import { isAbortError } from './helpers/outcome.js';

type ErrorClass = typeof TypeError | typeof RangeError;
interface BadCall {
  args: unknown[];
  error: ErrorClass;
  /** The argument the message must name. */
  names: string;
}

function detached(length = 4): Uint8Array {
  const buffer = new ArrayBuffer(length);
  const view = new Uint8Array(buffer);
  structuredClone(buffer, { transfer: [buffer] });
  return view;
}
const px = (w: number, h: number) => new Uint8Array(w * h * 4);

const badNumbers = (name: string, max: number, at: (v: unknown) => unknown[]): BadCall[] => [
  { args: at('5'), error: TypeError, names: name },
  { args: at(5n), error: TypeError, names: name },
  { args: at(undefined), error: TypeError, names: name },
  { args: at(null), error: TypeError, names: name },
  { args: at({}), error: TypeError, names: name },
  { args: at(NaN), error: RangeError, names: name },
  { args: at(Infinity), error: RangeError, names: name },
  { args: at(-Infinity), error: RangeError, names: name },
  { args: at(-1), error: RangeError, names: name },
  { args: at(1.5), error: RangeError, names: name },
  { args: at(max + 1), error: RangeError, names: name },
];

const badBytes = (name: string, at: (v: unknown) => unknown[]): BadCall[] => [
  { args: at(42), error: TypeError, names: name },
  { args: at([1, 2, 3, 4]), error: TypeError, names: name },
  { args: at(new Uint16Array(2)), error: TypeError, names: name },
  { args: at(new ArrayBuffer(4)), error: TypeError, names: name },
  { args: at(detached()), error: TypeError, names: name },
];

const badCalls: Record<'primes' | 'pbkdf2' | 'blur' | 'sleep', BadCall[]> = {
  primes: badNumbers('limit', 2 ** 32 - 1, (v) => [v]),
  pbkdf2: [
    ...badBytes('password', (v) => [v, 'salt', 1, 32]),
    ...badBytes('salt', (v) => ['pw', v, 1, 32]),
    ...badNumbers('iterations', 100_000_000, (v) => ['pw', 'salt', v, 32]),
    { args: ['pw', 'salt', 0, 32], error: RangeError, names: 'iterations' },
    ...badNumbers('keylen', 1024, (v) => ['pw', 'salt', 1, v]),
    { args: ['pw', 'salt', 1, 0], error: RangeError, names: 'keylen' },
  ],
  blur: [
    ...badBytes('rgba', (v) => [v, 1, 1, 0]),
    { args: ['abcd', 1, 1, 0], error: TypeError, names: 'rgba' },
    ...badNumbers('width', 65_535, (v) => [px(1, 1), v, 1, 0]),
    { args: [px(1, 1), 0, 1, 0], error: RangeError, names: 'width' },
    ...badNumbers('height', 65_535, (v) => [px(1, 1), 1, v, 0]),
    { args: [px(1, 1), 1, 0, 0], error: RangeError, names: 'height' },
    { args: [px(1, 1), 65_535, 65_535, 0], error: RangeError, names: 'height' },
    ...badNumbers('radius', 65_535, (v) => [px(1, 1), 1, 1, v]),
    { args: [px(2, 2).subarray(1), 2, 2, 1], error: RangeError, names: 'rgba' },
    { args: [px(2, 2), 2, 3, 1], error: RangeError, names: 'rgba' },
    { args: [new Uint8Array(0), 1, 1, 0], error: RangeError, names: 'rgba' },
  ],
  sleep: badNumbers('ms', 60_000, (v) => [v]),
};

const describeArgs = (args: unknown[]) =>
  args
    .map((a) =>
      typeof a === 'bigint'
        ? `${a}n`
        : ArrayBuffer.isView(a)
          ? `${a.constructor.name}(${(a as Uint8Array).length})`
          : (JSON.stringify(a) ?? String(a)),
    )
    .join(', ');

for (const engine of syncEngines) {
  test(`${engine.name}: every *Sync function rejects every bad argument with the right class, naming it`, (t) => {
    for (const [kernel, calls] of Object.entries(badCalls)) {
      const fn = engine[`${kernel}Sync` as 'primesSync'] as (...a: unknown[]) => unknown;
      for (const { args, error, names } of calls) {
        const err = t.throws(() => fn(...args), { instanceOf: error }, `${kernel}Sync(${describeArgs(args)})`);
        t.regex(err?.message ?? '', new RegExp(`"${names}"`), `${kernel}Sync(${describeArgs(args)})`);
      }
    }
  });
}

for (const engine of asyncEngines) {
  test(`${engine.name}: every Promise form rejects (never throws) on every bad argument`, async (t) => {
    for (const [kernel, calls] of Object.entries(badCalls)) {
      const fn = engine[kernel as 'primes'] as (...a: unknown[]) => Promise<unknown>;
      for (const { args, error, names } of calls) {
        let promise: Promise<unknown> | undefined;
        t.notThrows(() => {
          promise = fn(...args);
        });
        const err = await t.throwsAsync(promise!, { instanceOf: error }, `${kernel}(${describeArgs(args)})`);
        t.regex(err?.message ?? '', new RegExp(`"${names}"`));
      }
    }
  });

  test(`${engine.name}: bad options reject with a TypeError naming them`, async (t) => {
    await t.throwsAsync(engine.primes(10, 'fast' as never), { instanceOf: TypeError, message: /"options"/ });
    await t.throwsAsync(engine.primes(10, { signal: {} } as never), {
      instanceOf: TypeError,
      message: /"options.signal"/,
    });
    await t.throwsAsync(engine.noop(null as never), { instanceOf: TypeError, message: /"options"/ });
  });
}

test('errors carry Node-style codes and say what was received', (t) => {
  const type = t.throws(() => js.primesSync('7' as never), { instanceOf: TypeError });
  t.is((type as TypeError & { code: string }).code, 'ERR_INVALID_ARG_TYPE');
  t.regex(type!.message, /Received type string \("7"\)/);
  const range = t.throws(() => js.primesSync(-1), { instanceOf: RangeError });
  t.is((range as RangeError & { code: string }).code, 'ERR_OUT_OF_RANGE');
  t.regex(range!.message, /from 0 to 4294967295\. Received -1/);
});

// The addons are a public surface too: called directly, they must validate on their own.
for (const name of ['cpp', 'rust'] as const) {
  test(`the ${name} addon, called directly, rejects bad arguments itself`, async (t) => {
    const addon = loadAddon(name) as unknown as Record<string, (...a: unknown[]) => unknown>;
    const bytesFor = (args: unknown[]) => args.map((a) => (typeof a === 'string' ? Buffer.from(a) : a));
    for (const [kernel, calls] of Object.entries(badCalls)) {
      for (const { args, error, names } of calls) {
        // The addons take bytes only; string passwords are the TS layer's convenience.
        if (kernel === 'blur' && typeof args[0] === 'string') continue;
        const raw = kernel === 'pbkdf2' ? bytesFor(args) : args;
        for (const fn of [`${kernel}Sync`, kernel]) {
          const err = t.throws(() => addon[fn]!(...raw), { instanceOf: error }, `${name}.${fn}(${describeArgs(args)})`);
          t.regex(err?.message ?? '', new RegExp(`"${names}"`), `${name}.${fn}(${describeArgs(args)})`);
        }
      }
    }
    for (const token of [{}, 1, 'token', null]) {
      t.throws(() => addon.primes!(10, token), { instanceOf: TypeError, message: /"token"/ });
      t.throws(() => addon.cancel!(token), { instanceOf: TypeError, message: /"token"/ });
    }
    t.throws(() => addon.primes!(10, (name === 'cpp' ? loadAddon('rust') : loadAddon('cpp')).createCancelToken()), {
      instanceOf: TypeError,
    });
    // ...and the process lives on, with the addon still working.
    t.is(await addon.primes!(100), 25);
  });
}

test('after every bad call, every engine still computes', async (t) => {
  for (const engine of [js, cpp, rust]) t.is(engine.primesSync(1000), 168);
  for (const engine of [js, workers, cpp, rust]) t.is(await engine.primes(1000), 168);
});

// Every bound is inclusive. Calls exactly at each limit, with a signal already aborted: valid
// arguments reach the abort check and reject with AbortError (nothing runs); a bound off by one
// would reject them with a RangeError first. (width·height = 2^26 needs a 256 MiB image: not here.)
const atTheLimits: [string, unknown[]][] = [
  ['primes', [0]],
  ['primes', [2 ** 32 - 1]],
  ['pbkdf2', ['', '', 1, 1]],
  ['pbkdf2', ['pw', 'salt', 100_000_000, 1024]],
  ['blur', [px(65_535, 1), 65_535, 1, 65_535]],
  ['blur', [px(1, 65_535), 1, 65_535, 0]],
  ['sleep', [0]],
  ['sleep', [60_000]],
];
for (const engine of asyncEngines) {
  test(`${engine.name}: arguments exactly at every limit are accepted`, async (t) => {
    for (const [kernel, args] of atTheLimits) {
      const fn = engine[kernel as 'primes'] as (...a: unknown[]) => Promise<unknown>;
      const error = await fn(...args, { signal: AbortSignal.abort() }).then(
        () => undefined,
        (e: unknown) => e,
      );
      t.true(isAbortError(error), `${kernel}(${describeArgs(args)}): ${String(error)}`);
    }
  });
}
for (const name of ['cpp', 'rust'] as const) {
  test(`the ${name} addon, called directly, accepts arguments exactly at every limit`, async (t) => {
    const addon = loadAddon(name) as unknown as Record<string, (...a: unknown[]) => unknown> & {
      createCancelToken(): unknown;
    };
    for (const [kernel, args] of atTheLimits) {
      const raw = kernel === 'pbkdf2' ? args.map((a) => (typeof a === 'string' ? Buffer.from(a) : a)) : args;
      const token = addon.createCancelToken();
      addon.cancel!(token);
      const error = await Promise.resolve()
        .then(() => addon[kernel]!(...raw, token))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      t.true(isAbortError(error), `${name}.${kernel}(${describeArgs(args)}): ${String(error)}`);
    }
  });
}
