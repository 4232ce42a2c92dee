import { invalidArgType, outOfRange } from '../errors.js';
import type { TaskOptions } from './types.js';

/** The argument checks every engine shares; each kernel's arguments are declared in kernels.ts. */

interface Range { readonly min: number; readonly max: number }

export function integer(name: string, value: unknown, range: Range): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw outOfRange(name, `an integer from ${range.min} to ${range.max}`, value);
  }
  return value;
}

/** A typed array whose buffer was transferred or detached can no longer be viewed. */
function isDetached(view: ArrayBufferView): boolean {
  if (view.byteLength !== 0) return false;
  const buffer = view.buffer as ArrayBuffer & { detached?: boolean };
  if (typeof buffer.detached === 'boolean') return buffer.detached;
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

function bytes(name: string, value: unknown, accepted: string, allowClamped: boolean): Uint8Array {
  const ok = value instanceof Uint8Array || (allowClamped && value instanceof Uint8ClampedArray);
  if (!ok) throw invalidArgType(name, accepted, value);
  const view = value as Uint8Array | Uint8ClampedArray;
  if (isDetached(view)) throw invalidArgType(name, 'backed by an attached ArrayBuffer (it was detached)', value);
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

/** The trailing `{ signal }` of every Promise form. */
export function taskOptions(options: unknown): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const { signal } = options as TaskOptions;
  if (signal === undefined) return undefined;
  if (!(signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  return signal;
}
