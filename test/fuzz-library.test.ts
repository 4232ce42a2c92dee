import test from 'ava';
import fc from 'fast-check';
import { loadAddon } from '../src/engines/addon.js';
import { type KernelName, kernelNames } from '../src/index.js';
import { asyncEngines, syncEngines } from './helpers/engines.js';
import {
  anyValue,
  arity,
  errorClass,
  fuzzRuns,
  fuzzSeed,
  isAbortError,
  kernelArgs,
  type Outcome,
  same,
  settle,
  tooCostly,
} from './helpers/fuzz.js';
import { specOracle } from './helpers/oracle.js';

// Every function of every engine, called with arbitrary values: each outcome is the right answer
// (from the spec: published-style π table, node:crypto, the blur definition) or the TypeError /
// RangeError (with its Node-style code) the spec names, or an AbortError — never anything else,
// and never a crash (a crash would end this process and fail the file).

/** Limits above this are "too costly" for a fuzz case (helpers/fuzz.ts), so the π table stops here. */
const oracle = specOracle(2_000_000);

/** An error a caller may see: a TypeError/RangeError with its code, or an AbortError. */
const codeOf = (e: unknown) => (e as { code?: unknown } | null)?.code;
const acceptable = (e: unknown) =>
  isAbortError(e) ||
  (errorClass(e) === 'TypeError' && codeOf(e) === 'ERR_INVALID_ARG_TYPE') ||
  (errorClass(e) === 'RangeError' && codeOf(e) === 'ERR_OUT_OF_RANGE');

function agrees(expected: ReturnType<typeof oracle>, got: Outcome, abortable: boolean): boolean {
  if ('error' in got && !acceptable(got.error)) return false;
  if ('error' in expected)
    return 'error' in got && errorClass(got.error) === expected.error && codeOf(got.error) === expected.code;
  if ('error' in got) return abortable && isAbortError(got.error);
  return same(got.value, expected.value);
}

let cases = 0;
test.after(() => console.log(`fuzz-library: ${cases} cases (seed ${fuzzSeed}, ${fuzzRuns} runs per property)`));

for (const kernel of kernelNames) {
  for (const engine of syncEngines) {
    test(`fuzz ${engine.name}.${kernel}Sync: the right answer or TypeError/RangeError`, (t) => {
      fc.assert(
        fc.property(kernelArgs(kernel), (args) => {
          fc.pre(!tooCostly(kernel, args));
          cases++;
          const expected = oracle(kernel, args);
          let got: Outcome;
          try {
            got = { value: (engine[`${kernel}Sync`] as (...a: unknown[]) => unknown)(...args) };
          } catch (error) {
            got = { error };
          }
          return agrees(expected, got, false);
        }),
        { numRuns: fuzzRuns, seed: fuzzSeed },
      );
      t.pass();
    });
  }

  // An abort at a random moment: none, before the call, on the next microtask, or a few ms in.
  const abortPlan = fc.constantFrom('none', 'before', 'microtask', 0, 1, 3);
  for (const engine of asyncEngines) {
    test(`fuzz ${engine.name}.${kernel}: the right answer or TypeError/RangeError/AbortError`, async (t) => {
      await fc.assert(
        fc.asyncProperty(
          kernelArgs(kernel),
          abortPlan,
          fc.option(
            anyValue.map((value) => ({ value })),
            { freq: 8, nil: undefined },
          ),
          async (args, plan, badOptions) => {
            fc.pre(!tooCostly(kernel, args));
            cases++;
            const n = kernel === 'pbkdf2' || kernel === 'blur' ? 4 : 1;
            const controller = new AbortController();
            if (plan === 'before') controller.abort();
            const call = [...args.slice(0, n), ...Array(Math.max(0, n - args.length)).fill(undefined)];
            const options = badOptions ? badOptions.value : { signal: controller.signal };
            const pending = settle(() => (engine[kernel] as (...a: unknown[]) => Promise<unknown>)(...call, options));
            if (plan === 'microtask') queueMicrotask(() => controller.abort());
            else if (typeof plan === 'number') setTimeout(() => controller.abort(), plan);
            const got = await pending;
            const expected = oracle(kernel, call);
            if (badOptions !== undefined && !('error' in expected)) {
              // Bad options: a TypeError, unless they happen to be valid ({} or undefined).
              return 'value' in got
                ? same(got.value, expected.value)
                : errorClass(got.error) === 'TypeError' && codeOf(got.error) === 'ERR_INVALID_ARG_TYPE';
            }
            return agrees(expected, got, badOptions === undefined && plan !== 'none');
          },
        ),
        { numRuns: fuzzRuns, seed: fuzzSeed },
      );
      t.pass();
    });
  }
}

// The addons called directly — no TypeScript validation in front — must hold the same line.
for (const name of ['cpp', 'rust'] as const) {
  for (const fn of [...kernelNames.map((k) => `${k}Sync`), ...kernelNames, 'noop', 'cancel']) {
    test(`fuzz the ${name} addon's ${fn} directly: a result or TypeError/RangeError, never a crash`, async (t) => {
      const addon = loadAddon(name) as unknown as Record<string, (...a: unknown[]) => unknown>;
      const kernel = fn.replace(/Sync$/, '') as KernelName;
      const argsArb = kernelNames.includes(kernel) ? kernelArgs(kernel) : fc.array(anyValue, { maxLength: 2 });
      await fc.assert(
        fc.asyncProperty(argsArb, async (rawArgs) => {
          // The addons take bytes: encode the strings the TypeScript layer would.
          const args = kernel === 'pbkdf2' ? rawArgs.map((a) => (typeof a === 'string' ? Buffer.from(a) : a)) : rawArgs;
          fc.pre(!kernelNames.includes(kernel) || !tooCostly(kernel, args));
          cases++;
          const got = await settle(() => addon[fn]!(...args));
          if (!kernelNames.includes(kernel))
            return !('error' in got) || (acceptable(got.error) && !isAbortError(got.error));
          // An extra argument to an async export is its cancel token: a 0 there is a TypeError.
          const tokenSlot = !fn.endsWith('Sync') && args.length > arity[kernel];
          if (tokenSlot && 'error' in got) return acceptable(got.error) && !isAbortError(got.error);
          return agrees(oracle(kernel, args), got, false);
        }),
        { numRuns: fuzzRuns, seed: fuzzSeed },
      );
      t.pass();
    });
  }
}
