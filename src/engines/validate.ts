import { invalidArgType, outOfRange } from '../errors.js';
import { limits } from '../kernels/limits.js';
import type { KernelArgs, TaskOptions } from './types.js';

/** Every argument of every kernel is checked here, once, for all engines, in argument order. */

interface Range { readonly min: number; readonly max: number }

export function integer(name: string, value: unknown, range: Range): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw outOfRange(name, `an integer from ${range.min} to ${range.max}`, value);
  }
  return value;
}

/** The built-in `at`, captured before user code could replace it: it runs none. */
const typedArrayAt = Object.getPrototypeOf(Uint8Array.prototype).at as
  (this: ArrayBufferView, index: number) => unknown;

/**
 * A view whose buffer was detached (transferred), or whose resizable buffer shrank below it, can
 * no longer be read: V8 then reports it as empty, and `at` throws on it (while a truly empty view
 * returns undefined).
 */
function isOutOfBounds(view: ArrayBufferView): boolean {
  if (view.byteLength !== 0) return false;
  try {
    typedArrayAt.call(view, 0);
    return false;
  } catch {
    return true;
  }
}

function bytes(name: string, value: unknown, accepted: string, allowClamped: boolean): Uint8Array {
  const ok = value instanceof Uint8Array || (allowClamped && value instanceof Uint8ClampedArray);
  if (!ok) throw invalidArgType(name, accepted, value);
  const view = value as Uint8Array | Uint8ClampedArray;
  if (isOutOfBounds(view)) {
    throw invalidArgType(name, 'within its ArrayBuffer (it was detached, or resized below the view)', value);
  }
  return view instanceof Uint8Array ? view : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * password and salt: a string or bytes. A string stays a string here: it is encoded as UTF-8
 * where the kernel runs, so a large one costs the event loop nothing when the work is offloaded.
 */
function binaryLike(name: string, value: unknown): string | Uint8Array {
  if (typeof value === 'string') return value;
  return bytes(name, value, 'of type string or an instance of Uint8Array', false);
}

export const parse = {
  primes(limit: unknown): [number] {
    return [integer('limit', limit, limits.primes.limit)];
  },
  pbkdf2(password: unknown, salt: unknown, iterations: unknown, keylen: unknown): KernelArgs['pbkdf2'] {
    return [
      binaryLike('password', password),
      binaryLike('salt', salt),
      integer('iterations', iterations, limits.pbkdf2.iterations),
      integer('keylen', keylen, limits.pbkdf2.keylen),
    ];
  },
  blur(rgba: unknown, width: unknown, height: unknown, radius: unknown): [Uint8Array, number, number, number] {
    const pixels = bytes('rgba', rgba, 'an instance of Uint8Array or Uint8ClampedArray', true);
    const w = integer('width', width, limits.blur.width);
    const h = integer('height', height, limits.blur.height);
    if (w * h > limits.blur.pixels) {
      throw outOfRange('height', `at most ${Math.floor(limits.blur.pixels / w)} for width ${w} (width·height ≤ ${limits.blur.pixels} pixels)`, h);
    }
    const r = integer('radius', radius, limits.blur.radius);
    if (pixels.length !== w * h * 4) {
      throw outOfRange('rgba', `of length width·height·4 = ${w * h * 4}`, pixels, `length ${pixels.length}`);
    }
    return [pixels, w, h, r];
  },
  sleep(ms: unknown): [number] {
    return [integer('ms', ms, limits.sleep.ms)];
  },
  noop(): [] {
    return [];
  },
  options(options: unknown): AbortSignal | undefined {
    if (options === undefined) return undefined;
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    const { signal } = options as TaskOptions;
    if (signal === undefined) return undefined;
    if (!(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
    return signal;
  },
};
