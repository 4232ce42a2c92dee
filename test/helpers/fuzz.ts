import fc from 'fast-check';
import { parse } from '../../src/engines/kernels.js';
import type { KernelName } from '../../src/index.js';

/** Cases per property: thousands in all inside `npm test`; OFFLOOP_FUZZ_RUNS raises it. */
export const fuzzRuns = Number(process.env.OFFLOOP_FUZZ_RUNS ?? 150);
export const fuzzSeed = Number(process.env.OFFLOOP_FUZZ_SEED ?? 20261125);

function detached(): Uint8Array {
  const buffer = new ArrayBuffer(16);
  const view = new Uint8Array(buffer);
  structuredClone(buffer, { transfer: [buffer] });
  return view;
}

function shared(bytes: Uint8Array): Uint8Array {
  const view = new Uint8Array(new SharedArrayBuffer(bytes.length));
  view.set(bytes);
  return view;
}

export const edgeNumbers = fc.constantFrom(
  0,
  -0,
  1,
  -1,
  2,
  3,
  0.5,
  -0.5,
  1e-300,
  Number.EPSILON,
  NaN,
  Infinity,
  -Infinity,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  1024,
  1025,
  65_535,
  65_536,
  60_000,
  60_001,
  100_000_000,
  100_000_001,
);

export const anyBytes = fc.oneof(
  fc.uint8Array({ maxLength: 150 }),
  fc.uint8Array({ maxLength: 64 }).map(shared),
  fc.uint8Array({ maxLength: 64 }).map((a) => new Uint8ClampedArray(a)),
  fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
  fc.constant(null).map(detached),
  fc.constant(null).map(() => new Uint8Array(0)),
  fc.constant(null).map(() => Buffer.alloc(1 << 20, 7)), // huge, for a password or a wrong-length rgba
  fc.constant(null).map(() => new Uint16Array(4)),
  fc.constant(null).map(() => new Float64Array(2)),
  fc.constant(null).map(() => new DataView(new ArrayBuffer(8))),
  fc.constant(null).map(() => new ArrayBuffer(8)),
);

/** Any JS value at all, weighted towards the edges that break argument handling. */
export const anyValue = fc.oneof(
  fc.anything(),
  edgeNumbers,
  fc.integer({ min: -5, max: 3000 }),
  fc.bigInt(),
  fc.string({ maxLength: 80 }),
  fc.constantFrom(undefined, null, true, false, Symbol('x'), () => 1, [], {}, new Date(0), /x/, new Map()),
  anyBytes,
);

/** Valid arguments for a kernel, kept cheap so thousands of cases stay fast. */
const validArgs: Record<KernelName, fc.Arbitrary<unknown[]>> = {
  primes: fc.integer({ min: 0, max: 200_000 }).map((n) => [n]),
  pbkdf2: fc.tuple(
    fc.oneof(fc.string({ maxLength: 100 }), fc.uint8Array({ maxLength: 100 })),
    fc.oneof(fc.string({ maxLength: 100 }), fc.uint8Array({ maxLength: 100 })),
    fc.integer({ min: 1, max: 30 }),
    fc.integer({ min: 1, max: 200 }),
  ),
  blur: fc
    .tuple(
      fc.integer({ min: 1, max: 24 }),
      fc.integer({ min: 1, max: 24 }),
      fc.integer({ min: 0, max: 40 }),
      fc.boolean(),
    )
    .chain(([w, h, r, clamped]) =>
      fc
        .uint8Array({ minLength: w * h * 4, maxLength: w * h * 4 })
        .map((px) => [clamped ? new Uint8ClampedArray(px) : px, w, h, r]),
    ),
  sleep: fc.integer({ min: 0, max: 3 }).map((ms) => [ms]),
};

export const arity: Record<KernelName, number> = { primes: 1, pbkdf2: 4, blur: 4, sleep: 1 };

/** Valid arguments with up to two replaced by anything at all, and sometimes one missing or extra. */
export function kernelArgs(kernel: KernelName): fc.Arbitrary<unknown[]> {
  const n = arity[kernel];
  return fc
    .tuple(
      validArgs[kernel],
      fc.array(fc.tuple(fc.nat(n - 1), anyValue), { maxLength: 2 }),
      fc.constantFrom('same', 'same', 'same', 'short', 'long'),
    )
    .map(([args, swaps, shape]) => {
      const out = [...args];
      for (const [at, value] of swaps) out[at] = value;
      if (shape === 'short') out.pop();
      if (shape === 'long') out.push(0);
      return out;
    });
}

/** Whether valid arguments would cost more than a fuzz case should (e.g. primes(2^32 − 1)). */
export function tooCostly(kernel: KernelName, args: unknown[]): boolean {
  let parsed: unknown[];
  try {
    parsed = (parse[kernel] as (...a: unknown[]) => unknown[])(...args.slice(0, arity[kernel]));
  } catch {
    return false; // invalid: rejected at once
  }
  const [a, b, c, d] = parsed as number[];
  switch (kernel) {
    case 'primes':
      return a! > 2_000_000;
    case 'pbkdf2':
      return c! * Math.ceil(d! / 32) > 20_000;
    // The spec oracle's blur is O(radius) per pixel.
    case 'blur':
      return b! * c! > 256 * 256 || b! * c! * d! > 4_000_000;
    case 'sleep':
      return a! > 5;
  }
}

export const same = (a: unknown, b: unknown) =>
  a instanceof Uint8Array && b instanceof Uint8Array ? Buffer.compare(a, b) === 0 : Object.is(a, b);

export { errorClass, isAbortError, type Outcome, settle } from './outcome.js';
