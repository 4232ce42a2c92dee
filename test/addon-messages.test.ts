import test from 'ava';
import { loadAddon } from '../src/engines/addon.js';
import { js } from '../src/index.js';

// Both addons validate on their own (a .node file is a public surface too) and must say the same
// thing, in the TypeScript layer's words: same class, same code, same message. Called directly,
// with the same bad arguments, their answers are compared with each other, and with the
// TypeScript validator's where it takes the same arguments (it also accepts strings for
// password/salt, and names the class of any object, which native code cannot do without running
// user code).

const cpp = loadAddon('cpp') as unknown as Record<string, (...args: unknown[]) => unknown>;
const rust = loadAddon('rust') as unknown as Record<string, (...args: unknown[]) => unknown>;
const cppPool = (loadAddon('cpp') as unknown as { pool: typeof cpp }).pool;
const rustPool = (loadAddon('rust') as unknown as { pool: typeof rust }).pool;

const px = (w: number, h: number) => new Uint8Array(w * h * 4);
const bytes = Uint8Array.of(1, 2);

/** Values that are not valid integers, each shown differently. */
const badNumbers: unknown[] = [
  '5',
  `a"b\\c\n${'x'.repeat(40)}`,
  'é'.repeat(30),
  5n,
  true,
  undefined,
  null,
  Symbol('s'),
  NaN,
  Infinity,
  -Infinity,
  -1,
  -0.5,
  1.5,
  2 ** 53,
  1e300,
];
/** Values the TypeScript layer shows differently (it names an object's class). */
const nativeOnly: unknown[] = [{}, [], () => 1, new Uint16Array(1), new ArrayBuffer(1), Promise.resolve()];

interface Case {
  kernel: 'primes' | 'pbkdf2' | 'blur' | 'sleep';
  args: unknown[];
  /** Whether the TypeScript validator takes these arguments the same way. */
  ts: boolean;
}

const numberCases = (kernel: Case['kernel'], at: (v: unknown) => unknown[]): Case[] => [
  ...badNumbers.map((v) => ({ kernel, args: at(v), ts: true })),
  ...nativeOnly.map((v) => ({ kernel, args: at(v), ts: false })),
];
const byteCases = (kernel: Case['kernel'], at: (v: unknown) => unknown[], ts: boolean): Case[] =>
  [42, 'abc', [1, 2], new Uint16Array(2), new ArrayBuffer(4), null, undefined].map((v) => ({
    kernel,
    args: at(v),
    ts,
  }));

const cases: Case[] = [
  ...numberCases('primes', (v) => [v]),
  { kernel: 'primes', args: [2 ** 32], ts: true },
  ...byteCases('pbkdf2', (v) => [v, bytes, 1, 1], false),
  ...byteCases('pbkdf2', (v) => [bytes, v, 1, 1], false),
  ...numberCases('pbkdf2', (v) => [bytes, bytes, v, 1]),
  { kernel: 'pbkdf2', args: [bytes, bytes, 0, 1], ts: true },
  { kernel: 'pbkdf2', args: [bytes, bytes, 1e8 + 1, 1], ts: true },
  ...numberCases('pbkdf2', (v) => [bytes, bytes, 1, v]),
  { kernel: 'pbkdf2', args: [bytes, bytes, 1, 1025], ts: true },
  ...byteCases('blur', (v) => [v, 1, 1, 0], true),
  ...numberCases('blur', (v) => [px(1, 1), v, 1, 0]),
  ...numberCases('blur', (v) => [px(1, 1), 1, v, 0]),
  ...numberCases('blur', (v) => [px(1, 1), 1, 1, v]),
  { kernel: 'blur', args: [px(1, 1), 65_535, 65_535, 0], ts: true },
  { kernel: 'blur', args: [px(1, 1), 65_536, 1, 0], ts: true },
  { kernel: 'blur', args: [px(1, 1), 2, 2, 1], ts: true },
  { kernel: 'blur', args: [px(1, 1), 1, 1, 65_536], ts: true },
  ...numberCases('sleep', (v) => [v]),
  { kernel: 'sleep', args: [60_001], ts: true },
];

interface Outcome {
  class: string;
  code: unknown;
  message: string;
}

function outcome(call: () => unknown): Outcome | 'no error' {
  try {
    call();
    return 'no error';
  } catch (error) {
    const e = error as Error & { code?: unknown };
    return { class: e.constructor.name, code: e.code, message: e.message };
  }
}

function shown(a: unknown): string {
  if (typeof a === 'symbol' || typeof a === 'bigint') return String(a);
  if (ArrayBuffer.isView(a)) return a.constructor.name;
  return typeof a === 'function' ? 'fn' : String(JSON.stringify(a));
}
const show = (args: unknown[]) => args.map(shown).join(', ');

test('both addons answer every bad call alike, in every form (sync, libuv, pool)', (t) => {
  for (const { kernel, args } of cases) {
    const expected = outcome(() => cpp[`${kernel}Sync`]!(...args));
    t.not(expected, 'no error', `${kernel}Sync(${show(args)})`);
    const forms: [string, () => unknown][] = [
      ['rust sync', () => rust[`${kernel}Sync`]!(...args)],
      ['cpp async', () => cpp[kernel]!(...args)],
      ['rust async', () => rust[kernel]!(...args)],
      ['cpp pool', () => cppPool[kernel]!(...args)],
      ['rust pool', () => rustPool[kernel]!(...args)],
    ];
    for (const [form, call] of forms) t.deepEqual(outcome(call), expected, `${form}: ${kernel}(${show(args)})`);
  }
});

test('the addons answer as the TypeScript validator does', (t) => {
  for (const { kernel, args } of cases.filter((c) => c.ts)) {
    const fromTs = outcome(() => (js[`${kernel}Sync`] as (...a: unknown[]) => unknown)(...args));
    t.deepEqual(
      outcome(() => cpp[`${kernel}Sync`]!(...args)),
      fromTs,
      `cpp ${kernel}(${show(args)})`,
    );
    t.deepEqual(
      outcome(() => rust[`${kernel}Sync`]!(...args)),
      fromTs,
      `rust ${kernel}(${show(args)})`,
    );
  }
});

test('both addons answer bad tokens and bad pool settings alike', (t) => {
  const token = cpp.createCancelToken!();
  const rustToken = rust.createCancelToken!();
  const calls: [string, () => unknown, () => unknown][] = [
    ['sleep(0, {})', () => cpp.sleep!(0, {}), () => rust.sleep!(0, {})],
    ['sleep(0, foreign token)', () => cpp.sleep!(0, rustToken), () => rust.sleep!(0, token)],
    ['cancel(42)', () => cpp.cancel!(42), () => rust.cancel!(42)],
    ['cancel()', () => cpp.cancel!(), () => rust.cancel!()],
    ...[
      [0, 10],
      [257, 10],
      [1.5, 10],
      ['2', 10],
      [2, -1],
      [2, 20],
      [2, '5'],
      [2, undefined],
    ].map(([threads, nice]): [string, () => unknown, () => unknown] => [
      `pool.start(${threads}, ${nice})`,
      () => cppPool.start!(threads, nice),
      () => rustPool.start!(threads, nice),
    ]),
  ];
  for (const [what, fromCpp, fromRust] of calls) {
    const expected = outcome(fromCpp);
    t.not(expected, 'no error', what);
    t.deepEqual(outcome(fromRust), expected, what);
  }
  // A token attached to a pending call.
  const pendingCpp = cpp.sleep!(50, token) as Promise<void>;
  const pendingRust = rust.sleep!(50, rustToken) as Promise<void>;
  t.deepEqual(
    outcome(() => rust.sleep!(0, rustToken)),
    outcome(() => cpp.sleep!(0, token)),
    'attached token',
  );
  return Promise.all([pendingCpp, pendingRust]).then(() => t.pass());
});
