import test from 'ava';
import { loadAddon, type NativeBinding } from '../src/engines/addon.js';
import { js } from '../src/index.js';
import { asyncEngines, syncEngines } from './helpers/engines.js';

// A view over a resizable ArrayBuffer that has shrunk below it can no longer be read: V8 reports
// it as empty. Every engine, and each addon's own validation, must reject it like a detached
// buffer (a TypeError with code ERR_INVALID_ARG_TYPE naming the argument), not compute on
// "empty" bytes.

type Resizable = ArrayBuffer & { resize(byteLength: number): void };
const ResizableBuffer = ArrayBuffer as unknown as new (
  byteLength: number,
  options: { maxByteLength: number },
) => Resizable;

/** Views left outside their buffer: one from offset 0, one past the buffer's new end. */
function shrunkViews(length: number): Uint8Array[] {
  const a = new ResizableBuffer(length, { maxByteLength: length * 2 });
  const fromStart = new Uint8Array(a, 0, length);
  a.resize(length / 2);
  const b = new ResizableBuffer(length * 2, { maxByteLength: length * 2 });
  const pastEnd = new Uint8Array(b, length, length);
  b.resize(length / 2);
  return [fromStart, pastEnd];
}

/** The calls to make with a shrunk view in place of each byte argument. */
const calls = (view: Uint8Array) =>
  [
    { kernel: 'pbkdf2', args: [view, 'salt', 1, 16], names: 'password' },
    { kernel: 'pbkdf2', args: ['pw', view, 1, 16], names: 'salt' },
    { kernel: 'blur', args: [view, 1, 1, 0], names: 'rgba' },
  ] as const;

const expected = (names: string) => ({
  instanceOf: TypeError,
  code: 'ERR_INVALID_ARG_TYPE',
  message: new RegExp(`^The "${names}" argument`),
});

for (const engine of syncEngines) {
  test(`${engine.name}: the *Sync forms reject a view its resizable buffer shrank below`, (t) => {
    for (const view of shrunkViews(4)) {
      for (const { kernel, args, names } of calls(view)) {
        const fn = engine[`${kernel}Sync`] as (...a: unknown[]) => unknown;
        t.throws(() => fn(...args), expected(names), `${kernel}Sync, ${names}`);
      }
    }
  });
}

for (const engine of asyncEngines) {
  test(`${engine.name}: the Promise forms reject a view its resizable buffer shrank below`, async (t) => {
    for (const view of shrunkViews(4)) {
      for (const { kernel, args, names } of calls(view)) {
        const fn = engine[kernel] as (...a: unknown[]) => Promise<unknown>;
        await t.throwsAsync(fn(...args), expected(names), `${kernel}, ${names}`);
      }
    }
  });
}

// The addons are a public surface too: called directly, they check on their own.
for (const name of ['cpp', 'rust'] as const) {
  const addon = loadAddon(name);
  const forms: [string, (b: NativeBinding) => Record<string, unknown>, string][] = [
    ['sync', (b) => b as unknown as Record<string, unknown>, 'Sync'],
    ['libuv', (b) => b as unknown as Record<string, unknown>, ''],
    ['pool', (b) => b.pool as unknown as Record<string, unknown>, ''],
  ];
  test(`the ${name} addon's own exports reject a view its resizable buffer shrank below`, (t) => {
    for (const [form, holder, suffix] of forms) {
      for (const view of shrunkViews(4)) {
        for (const { kernel, args, names } of calls(view)) {
          const bytes = args.map((a) => (typeof a === 'string' ? Buffer.from(a) : a));
          const fn = holder(addon)[`${kernel}${suffix}`] as (...a: unknown[]) => unknown;
          t.throws(() => fn(...bytes), expected(names), `${form} ${kernel}, ${names}`);
        }
      }
    }
  });
}

test('views a resizable buffer still holds are accepted, with the same results as plain bytes', async (t) => {
  const buffer = new ResizableBuffer(8, { maxByteLength: 16 });
  const tracking = new Uint8Array(buffer); // follows the buffer's length
  tracking.set([1, 2, 3, 4, 5, 6, 7, 8]);
  buffer.resize(4);
  const empty = new Uint8Array(buffer, 4, 0); // at the very end: empty, not outside
  const oracle = js.pbkdf2Sync(Uint8Array.of(1, 2, 3, 4), new Uint8Array(0), 1, 16);
  for (const engine of syncEngines) {
    t.deepEqual(engine.pbkdf2Sync(tracking, empty, 1, 16), oracle, `${engine.name} sync`);
  }
  for (const engine of asyncEngines) {
    t.deepEqual(await engine.pbkdf2(tracking, empty, 1, 16), oracle, engine.name);
  }
});
