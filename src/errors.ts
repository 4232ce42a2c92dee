/**
 * Argument errors in Node's own style: the built-in classes, a `code`, and a message that names
 * the argument and shows what was received — so `instanceof TypeError` and `err.code` both work,
 * and `err.argument` names the argument for callers (the server's 400s) that want it as data.
 */
/**
 * The error every engine rejects with when its task is aborted, shaped as Node's own abortable
 * APIs (timers/promises, fs, events.once, streams) throw theirs: name 'AbortError', code
 * 'ABORT_ERR', and the signal's reason as `cause`, so "why was it aborted" survives.
 */
export class AbortError extends Error {
  override readonly name = 'AbortError';
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: ErrorOptions) {
    super(message, options);
  }
}

/** An AbortError for an abort of `signal` (its reason becomes the cause), or for a task stopped otherwise. */
export function abortError(signal?: AbortSignal): AbortError {
  return new AbortError(undefined, signal === undefined ? undefined : { cause: signal.reason });
}

export type ArgErrorCode = 'ERR_INVALID_ARG_TYPE' | 'ERR_OUT_OF_RANGE';

export function invalidArgType(name: string, expected: string, received: unknown): TypeError {
  return withCode(
    new TypeError(`The "${name}" argument must be ${expected}. Received ${describe(received)}`),
    'ERR_INVALID_ARG_TYPE',
    name,
  );
}

export function outOfRange(name: string, expected: string, received: unknown, shown = describe(received)): RangeError {
  return withCode(
    new RangeError(`The "${name}" argument must be ${expected}. Received ${shown}`),
    'ERR_OUT_OF_RANGE',
    name,
  );
}

function withCode<E extends Error>(
  error: E,
  code: ArgErrorCode,
  argument: string,
): E & { code: ArgErrorCode; argument: string } {
  return Object.assign(error, { code, argument });
}

/** A short, safe rendering of any value, as Node's own argument errors give it. */
export function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `type bigint (${value}n)`;
    case 'string': {
      const shown = value.length > 28 ? `${value.slice(0, 25)}...` : value;
      return `type string (${JSON.stringify(shown)})`;
    }
    case 'function':
      return `function ${value.name || '<anonymous>'}`;
    case 'object': {
      const name = (value as object).constructor?.name;
      return name ? `an instance of ${name}` : 'an object';
    }
    default:
      return `type ${typeof value}`;
  }
}
