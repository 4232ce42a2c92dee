import test from 'ava';
import { loadAddon } from '../src/engines/addon.js';
import { defineAsync, defineSync } from '../src/engines/define.js';
import { runKernel } from '../src/engines/js.js';
import {
  arity,
  binaryArg,
  cpuKernelNames,
  integerArg,
  type KernelName,
  kernel,
  kernelNames,
  kernelRoutes,
  kernelTable,
  limits,
  parse,
  signature,
  type TaskName,
  taskNames,
} from '../src/engines/kernels.js';
import type { AsyncKernels, Engine, SyncKernels } from '../src/engines/types.js';
import { cpp, cppPool, js, rust, rustPool, workers } from '../src/index.js';
import { routes } from '../src/server/routes.js';

// ---- type-level checks: compiled by `tsc -p tsconfig.json` with the tests ------------------------

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const typeIs = <T extends true>(): T => true as T;

// The method names are the table's, and nothing else.
typeIs<Equal<keyof AsyncKernels, 'primes' | 'pbkdf2' | 'blur' | 'sleep' | 'noop'>>();
typeIs<Equal<keyof SyncKernels, 'primesSync' | 'pbkdf2Sync' | 'blurSync' | 'sleepSync'>>();
typeIs<Equal<KernelName, 'primes' | 'pbkdf2' | 'blur' | 'sleep'>>();
typeIs<Equal<TaskName, KernelName | 'noop'>>();
// The signatures come from the table's, with the options object after the arguments.
typeIs<Equal<Parameters<AsyncKernels['primes']>, [limit: number, options?: import('../src/index.js').TaskOptions]>>();
typeIs<Equal<ReturnType<SyncKernels['blurSync']>, Buffer>>();
typeIs<Equal<typeof limits.blur.pixels, number>>();

// An engine missing a method does not compile: this is what `as AsyncKernels` used to hide.
const { blurSync: _dropped, ...withoutBlurSync } = js;
// @ts-expect-error blurSync is missing
const broken: Engine = withoutBlurSync;
void broken;

// defineAsync/defineSync give the whole set, so an engine built from them needs nothing more.
const built: Engine = { name: 'js', ...defineSync(runKernel), ...defineAsync({ run: async () => undefined as never }) };
void built;

// A table entry whose descriptors do not fit its signature does not compile.
kernel(signature<(limit: number) => number>(), {
  summary: 'wrong kind',
  // @ts-expect-error a number argument needs an integer descriptor, not a binary one
  args: [binaryArg('limit', { from: 'json', example: 'x' })],
  sync: true,
  work: () => 0,
});
kernel(signature<(a: number, b: number) => number>(), {
  summary: 'too few descriptors',
  // @ts-expect-error one descriptor per argument
  args: [integerArg('a', 0, 1, { from: 'query' })],
  sync: true,
  work: () => 0,
});

// ---- the same facts at run time -------------------------------------------------------------------

test('the table lists the tasks; the kernels are those with a blocking form', (t) => {
  t.deepEqual(taskNames, ['primes', 'pbkdf2', 'blur', 'sleep', 'noop']);
  t.deepEqual(kernelNames, ['primes', 'pbkdf2', 'blur', 'sleep']);
  t.deepEqual(cpuKernelNames, ['primes', 'pbkdf2', 'blur']);
  t.deepEqual(arity, { primes: 1, pbkdf2: 4, blur: 4, sleep: 1, noop: 0 });
});

test('every engine has a Promise method per task and a Sync method per kernel, and nothing for noopSync', (t) => {
  const syncEngines = [js, cpp, rust, cppPool, rustPool];
  for (const engine of [...syncEngines, workers]) {
    for (const task of taskNames) t.is(typeof engine[task], 'function', `${engine.name}.${task}`);
    t.false('noopSync' in engine, `${engine.name}.noopSync`);
  }
  for (const engine of syncEngines) {
    for (const name of kernelNames) t.is(typeof engine[`${name}Sync`], 'function', `${engine.name}.${name}Sync`);
  }
});

test('both addons export every table entry the binding interface derives', (t) => {
  for (const addon of ['cpp', 'rust'] as const) {
    const binding = loadAddon(addon);
    for (const task of taskNames) {
      t.is(typeof binding[task], 'function', `${addon}.${task}`);
      t.is(typeof binding.pool[task], 'function', `${addon}.pool.${task}`);
    }
    for (const name of kernelNames) t.is(typeof binding[`${name}Sync`], 'function', `${addon}.${name}Sync`);
  }
});

test('limits are derived from the descriptors: the documented bounds', (t) => {
  t.deepEqual(limits, {
    primes: { limit: { min: 0, max: 2 ** 32 - 1 } },
    pbkdf2: { iterations: { min: 1, max: 100_000_000 }, keylen: { min: 1, max: 1024 } },
    blur: {
      width: { min: 1, max: 65_535 },
      height: { min: 1, max: 65_535 },
      pixels: 2 ** 26,
      radius: { min: 0, max: 65_535 },
    },
    sleep: { ms: { min: 0, max: 60_000 } },
  });
});

test('parse checks each integer at its bounds, naming it, for every kernel', (t) => {
  const valid: { [K in KernelName]: unknown[] } = {
    primes: [10],
    pbkdf2: ['pw', 'salt', 1, 32],
    blur: [new Uint8Array(4), 1, 1, 0],
    sleep: [0],
  };
  for (const name of kernelNames) {
    const args = kernelTable[name].args;
    t.notThrows(() => parse[name](...valid[name]), name);
    args.forEach((arg, i) => {
      if (arg.kind !== 'integer') return;
      for (const [value, ok] of [
        [arg.min - 1, false],
        [arg.max + 1, false],
        [arg.min + 0.5, false],
        [arg.min, true],
      ] as const) {
        const raw = [...valid[name]];
        raw[i] = value;
        if (name === 'blur' && ok) raw[0] = new Uint8Array((raw[1] as number) * (raw[2] as number) * 4);
        if (ok) {
          t.notThrows(() => parse[name](...raw), `${name}(${arg.name}=${value})`);
        } else {
          const error = t.throws(
            () => parse[name](...raw),
            { instanceOf: RangeError },
            `${name}(${arg.name}=${value})`,
          );
          t.like(error, { code: 'ERR_OUT_OF_RANGE', argument: arg.name });
        }
      }
    });
  }
});

test("parse keeps the addons' order: the pixel cap is height's, before radius; the rgba length is last", (t) => {
  const tooMany = t.throws(() => parse.blur(new Uint8Array(4), 65_535, 65_535, -1));
  t.like(tooMany, { argument: 'height' });
  t.regex(tooMany.message, /at most 1024 for width 65535/);
  t.like(
    t.throws(() => parse.blur(new Uint8Array(4), 2, 2, -1)),
    { argument: 'radius' },
  );
  t.like(
    t.throws(() => parse.blur(new Uint8Array(4), 2, 2, 0)),
    { argument: 'rgba', code: 'ERR_OUT_OF_RANGE' },
  );
  t.like(
    t.throws(() => parse.blur('x', 2, 2, -1)),
    { argument: 'rgba', code: 'ERR_INVALID_ARG_TYPE' },
  );
});

test('every HTTP default lies within its bounds', (t) => {
  for (const route of kernelRoutes) {
    for (const arg of route.args) {
      if (arg.kind !== 'integer' || arg.default === undefined) continue;
      t.true(arg.default >= arg.min && arg.default <= arg.max, `${route.kernel}.${arg.name}`);
    }
  }
});

test("the route lines derived from the table are the server's own", (t) => {
  t.deepEqual(
    kernelRoutes.map((r) => r.kernel),
    ['primes', 'pbkdf2', 'blur', 'sleep'],
  );
  for (const route of kernelRoutes) {
    const served = routes.find((r) => r.pattern === `/${route.kernel}/:strategy`);
    t.like(served, { method: route.method, summary: route.summary }, route.kernel);
  }
});

test('work grows with the burst knob of every routed kernel, and is 0 for noop', (t) => {
  const small: { [K in KernelName]: unknown[] } = {
    primes: [16],
    pbkdf2: ['pw', 'salt', 16, 32],
    blur: [new Uint8Array(16 * 16 * 4), 16, 16, 1],
    sleep: [16],
  };
  const work = (name: KernelName, raw: unknown[]) =>
    (kernelTable[name].work as (args: unknown[]) => number)(parse[name](...raw));
  for (const route of kernelRoutes) {
    const raw = [...small[route.kernel]];
    const before = work(route.kernel, raw);
    const args = kernelTable[route.kernel].args;
    for (const name of route.burst.sets) raw[args.findIndex((arg) => arg.name === name)] = 32;
    if (route.kernel === 'blur') raw[0] = new Uint8Array(32 * 32 * 4);
    t.true(work(route.kernel, raw) > before, route.kernel);
  }
  t.is(kernelTable.noop.work(), 0);
});
