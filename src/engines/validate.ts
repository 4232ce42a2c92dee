import { invalidArgType, outOfRange } from '../errors.js';

/** The argument checks every engine shares; each kernel's arguments are declared in kernels.ts. */

interface Range {
  readonly min: number;
  readonly max: number;
}

export function integer(name: string, value: unknown, range: Range): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw outOfRange(name, `an integer from ${range.min} to ${range.max}`, value);
  }
  return value;
}

/** One of `choices`, a string. */
export function oneOf<T extends string>(name: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (!(choices as readonly string[]).includes(value)) {
    throw outOfRange(name, `one of ${choices.map((c) => `"${c}"`).join(', ')}`, value);
  }
  return value as T;
}

/** The built-in `at`, captured before user code could replace it: it runs none. */
const typedArrayAt = Object.getPrototypeOf(Uint8Array.prototype).at as (
  this: ArrayBufferView,
  index: number,
) => unknown;

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
export function binaryLike(name: string, value: unknown): string | Uint8Array {
  if (typeof value === 'string') return value;
  return bytes(name, value, 'of type string or an instance of Uint8Array', false);
}

/** RGBA pixels: a Uint8Array, or a Uint8ClampedArray viewed as one. */
export function pixels(name: string, value: unknown): Uint8Array {
  return bytes(name, value, 'an instance of Uint8Array or Uint8ClampedArray', true);
}

/** The options every Promise form takes last. */
export interface TaskOptions {
  /** Aborting rejects the call with an `AbortError` (code `ABORT_ERR`) whose `cause` is the signal's reason. */
  signal?: AbortSignal | undefined;
}

/** The trailing `{ signal }` of every Promise form. */
export function taskOptions(options: unknown): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const { signal } = options as TaskOptions;
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  return signal;
}
