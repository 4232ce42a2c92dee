import { outOfRange } from '../errors.js';
import { binaryLike, integer, pixels } from './validate.js';

/**
 * The kernel table: the one place where a kernel is declared — its public signature, its
 * arguments and their bounds, whether it has a blocking form, and how HTTP asks for it and
 * answers it. The engines' method shapes (types.ts), the native binding's interface
 * (addon.ts), argument validation, `limits`, the server's routes, the page's forms and the
 * bench are derived from it. Adding a kernel: one entry here, the kernel in each language,
 * the addons' export tables, tests.
 *
 * It lives in the engine layer, not beside the TypeScript kernels in src/kernels/: it states
 * what every engine accepts (validation is the engines' shared front door), and the pure
 * kernels must not depend on it.
 */

/** A password or salt: a string is encoded as UTF-8. */
export type BinaryLike = string | Uint8Array;
/** RGBA8 pixels, row-major, 4 bytes per pixel: `length === width * height * 4`. */
export type Pixels = Uint8Array | Uint8ClampedArray;

// ---- arguments ---------------------------------------------------------------------------------

/** Where the HTTP layer reads an argument: the query string, a JSON body field, or the raw body. */
export type ArgSource = 'query' | 'json' | 'body';

interface ArgBase<Name extends string = string> {
  readonly name: Name;
  readonly from: ArgSource;
}
/** An integer within [min, max]; `default` is what HTTP uses when the request leaves it out. */
export interface IntegerArg<Name extends string = string> extends ArgBase<Name> {
  readonly kind: 'integer';
  readonly min: number;
  readonly max: number;
  readonly default?: number;
  /** A check against the arguments before it, run right after this one's own (blur's pixel cap). */
  readonly refine?: (value: number, before: readonly unknown[]) => void;
}
/** A string (UTF-8) or bytes, any length; `example` is what a client with no value in mind sends. */
export interface BinaryArg<Name extends string = string> extends ArgBase<Name> {
  readonly kind: 'binary';
  readonly example: string;
}
/** RGBA pixels: a `Uint8Array` or `Uint8ClampedArray`. */
export interface PixelsArg<Name extends string = string> extends ArgBase<Name> {
  readonly kind: 'pixels';
}
export type Arg = IntegerArg | BinaryArg | PixelsArg;

export const integerArg = <const N extends string>(
  name: N,
  min: number,
  max: number,
  rest: Omit<IntegerArg, 'kind' | 'name' | 'min' | 'max'>,
): IntegerArg<N> => ({
  kind: 'integer',
  name,
  min,
  max,
  ...rest,
});
export const binaryArg = <const N extends string>(name: N, rest: Omit<BinaryArg, 'kind' | 'name'>): BinaryArg<N> => ({
  kind: 'binary',
  name,
  ...rest,
});
export const pixelsArg = <const N extends string>(name: N, rest: Omit<PixelsArg, 'kind' | 'name'>): PixelsArg<N> => ({
  kind: 'pixels',
  name,
  ...rest,
});

/** Each kind's validator (validate.ts's primitives): a bad value throws a TypeError/RangeError naming it. */
const check: { [K in Arg['kind']]: (arg: Extract<Arg, { kind: K }>, value: unknown) => unknown } = {
  integer: (arg, value) => integer(arg.name, value, arg),
  binary: (arg, value) => binaryLike(arg.name, value),
  pixels: (arg, value) => pixels(arg.name, value),
};

/** The descriptor each public argument type needs: a `number` is an integer, a `Pixels` pixels… */
type ArgFor<T> = [T] extends [number]
  ? IntegerArg
  : [T] extends [Pixels]
    ? PixelsArg
    : [T] extends [BinaryLike]
      ? BinaryArg
      : never;
/** What validation turns an accepted argument into: views become `Uint8Array`; strings stay strings. */
type Validated<T> = [T] extends [Pixels] ? Uint8Array : T;
/** The descriptors for a parameter list, and the validated arguments (the names carry over). */
type ArgsFor<P extends readonly unknown[]> = { readonly [I in keyof P]: ArgFor<P[I]> };
type ValidatedTuple<P extends readonly unknown[]> = { [I in keyof P]: Validated<P[I]> };

// ---- kernels -----------------------------------------------------------------------------------

/** A type carried by the table without a value: the kernel's public signature. */
declare const phantom: unique symbol;
export interface Signature<F extends (...args: never[]) => unknown> {
  readonly [phantom]?: F;
}
export const signature = <F extends (...args: never[]) => unknown>(): Signature<F> => ({});

/** How HTTP answers: the JSON `result` as a number, hex of the bytes, or null; or the raw bytes. */
export type ResultEncoding = 'number' | 'hex' | 'null' | 'bytes';

export interface KernelSpec<F extends (...args: never[]) => unknown = (...args: never[]) => unknown> {
  /** The public signature, as `(limit: number) => number`: argument names, accepted types, result. */
  readonly signature: Signature<F>;
  /** One line for the docs. */
  readonly summary: string;
  /** Every argument, in order; each must fit its place in the signature. */
  readonly args: ArgsFor<Parameters<F>>;
  /** A check across the arguments, after each passed its own. */
  readonly check?: (args: ValidatedTuple<Parameters<F>>) => void;
  /** Whether there is a blocking `${name}Sync` form. */
  readonly sync: boolean;
  /** Whether it computes (CPU-bound) rather than waits: the bench's speed-up suite measures these. */
  readonly cpu: boolean;
  /** How much work the (valid) arguments ask for, in the kernel's own units (roughly linear in time). */
  readonly work: (args: ValidatedTuple<Parameters<F>>) => number;
  /** Bounds across arguments, for `limits` and the docs (a `check` or `refine` enforces them). */
  readonly limits?: Readonly<Record<string, number>>;
  /** The HTTP route `/<name>/:strategy`, if the kernel has one. */
  readonly http?: {
    /** The route's one line, after its path. */
    readonly summary: string;
    readonly result: ResultEncoding;
    /** The live page's burst: the size knob's label and start, and the integer arguments it sets. */
    readonly burst: { readonly label: string; readonly value: number; readonly sets: readonly string[] };
    /**
     * A raw body's exact length in bytes, from the query's (checked) integer arguments: the server
     * refuses a body of any other length before reading it.
     */
    readonly bodyLength?: (query: Readonly<Record<string, number>>) => number;
  };
}

/**
 * One table entry: its signature first, so that the descriptors, checks and work estimate that
 * follow are checked against it (the `const` keeps names and flags literal for the derived types).
 */
export function kernel<F extends (...args: never[]) => unknown, const S extends Omit<KernelSpec<F>, 'signature'>>(
  signature: Signature<F>,
  spec: S,
): S & { readonly signature: Signature<F> } {
  return { signature, ...spec };
}
type SignatureOf<E> = E extends { signature: Signature<infer F> } ? F : never;

/** width·height may not exceed this many pixels (256 MiB of RGBA). */
const maxPixels = 2 ** 26;

export const kernelTable = {
  /** π(limit): how many primes are ≤ limit, 0 ≤ limit ≤ 2^32 − 1. */
  primes: kernel(signature<(limit: number) => number>(), {
    summary: 'how many primes are ≤ limit (a segmented sieve, O(√limit) memory)',
    args: [integerArg('limit', 0, 2 ** 32 - 1, { from: 'query', default: 10_000_000 })],
    sync: true,
    cpu: true,
    work: ([limit]) => limit,
    http: {
      summary: 'count the primes ≤ limit',
      result: 'number',
      burst: { label: 'Limit', value: 400_000_000, sets: ['limit'] },
    },
  }),
  /** PBKDF2-HMAC-SHA256; iterations 1..10^8, keylen 1..1024 bytes. */
  pbkdf2: kernel(signature<(password: BinaryLike, salt: BinaryLike, iterations: number, keylen: number) => Buffer>(), {
    summary: 'PBKDF2-HMAC-SHA256: a key of keylen bytes',
    args: [
      binaryArg('password', { from: 'json', example: 'pw' }),
      binaryArg('salt', { from: 'json', example: 'salt' }),
      integerArg('iterations', 1, 100_000_000, { from: 'json', default: 100_000 }),
      integerArg('keylen', 1, 1024, { from: 'json', default: 32 }),
    ],
    sync: true,
    cpu: true,
    work: ([, , iterations, keylen]) => iterations * Math.ceil(keylen / 32),
    http: {
      summary: 'derive a key (hex)',
      result: 'hex',
      burst: { label: 'Iterations', value: 1_000_000, sets: ['iterations'] },
    },
  }),
  /** Box blur with clamped edges; width, height 1..65535, width·height ≤ 2^26, radius 0..65535. */
  blur: kernel(signature<(rgba: Pixels, width: number, height: number, radius: number) => Buffer>(), {
    summary: 'separable box blur with clamped edges: new RGBA',
    args: [
      pixelsArg('rgba', { from: 'body' }),
      integerArg('width', 1, 65_535, { from: 'query' }),
      integerArg('height', 1, 65_535, {
        from: 'query',
        refine: (h, [, w]) => {
          if ((w as number) * h > maxPixels) {
            throw outOfRange(
              'height',
              `at most ${Math.floor(maxPixels / (w as number))} for width ${w} (width·height ≤ ${maxPixels} pixels)`,
              h,
            );
          }
        },
      }),
      integerArg('radius', 0, 65_535, { from: 'query', default: 8 }),
    ],
    check: ([rgba, w, h]) => {
      if (rgba.length !== w * h * 4)
        throw outOfRange('rgba', `of length width·height·4 = ${w * h * 4}`, rgba, `length ${rgba.length}`);
    },
    limits: { pixels: maxPixels },
    sync: true,
    cpu: true,
    work: ([, width, height]) => width * height,
    http: {
      summary: 'blurred RGBA bytes',
      result: 'bytes',
      burst: { label: 'Image side (px)', value: 2048, sets: ['width', 'height'] },
      bodyLength: ({ width, height }) => width! * height! * 4,
    },
  }),
  /** Blocks a thread for ms (0..60000): the stand-in for blocking I/O. */
  sleep: kernel(signature<(ms: number) => void>(), {
    summary: 'blocks a thread for ms (a stand-in for blocking I/O)',
    args: [integerArg('ms', 0, 60_000, { from: 'query', default: 1000 })],
    sync: true,
    cpu: false,
    work: ([ms]) => ms,
    http: {
      summary: 'block a thread for ms (a stand-in for blocking I/O)',
      result: 'null',
      burst: { label: 'Sleep (ms)', value: 1000, sets: ['ms'] },
    },
  }),
  /** A round trip that does no work: the cost of dispatching to this engine. */
  noop: kernel(signature<() => void>(), {
    summary: 'an async round trip that does no work (dispatch cost; Promise form only)',
    args: [],
    sync: false,
    cpu: false,
    work: () => 0,
  }),
} as const;

// ---- derived -----------------------------------------------------------------------------------

export type KernelTable = typeof kernelTable;
/** Everything an engine can run as a Promise, `noop` included. */
export type TaskName = keyof KernelTable;
/** The kernels proper: those with a blocking form too (all but `noop`). */
export type KernelName = { [K in TaskName]: KernelTable[K]['sync'] extends true ? K : never }[TaskName];
/** A task's public signature. */
export type SignatureOfTask<K extends TaskName> = SignatureOf<KernelTable[K]>;
/** The arguments a task's public methods accept, named as in its signature. */
export type KernelInput<K extends TaskName> = Parameters<SignatureOfTask<K>>;
/** A task's validated arguments, as the engines' runners see them. */
export type ValidatedArgs<K extends TaskName> = ValidatedTuple<KernelInput<K>>;
/** The validated arguments of every task, by name. */
export type KernelArgs = { [K in TaskName]: ValidatedArgs<K> };
export type KernelResult<K extends TaskName> = ReturnType<SignatureOfTask<K>>;

/** Every task, in table order. */
export const taskNames = Object.keys(kernelTable) as TaskName[];
const isKernel = (name: TaskName): name is KernelName => kernelTable[name].sync;
/** The kernels with a blocking form, in table order. */
export const kernelNames: readonly KernelName[] = taskNames.filter(isKernel);
/** The kernels that compute rather than wait (what the bench's speed-ups compare). */
export type CpuKernelName = { [K in KernelName]: KernelTable[K]['cpu'] extends true ? K : never }[KernelName];
const isCpu = (name: KernelName): name is CpuKernelName => kernelTable[name].cpu;
export const cpuKernelNames: readonly CpuKernelName[] = kernelNames.filter(isCpu);
/** How many arguments each task takes (its options object comes after them). */
export const arity = perTask<Record<TaskName, number>>((name) => kernelTable[name].args.length);

type IntegerBounds<A extends readonly Arg[]> = {
  readonly [X in Extract<A[number], IntegerArg> as X['name']]: { readonly min: number; readonly max: number };
};
/** The documented bounds of every kernel's arguments: each integer's range, and any bound across them. */
export type Limits = {
  readonly [K in KernelName]: IntegerBounds<KernelTable[K]['args']> &
    (KernelTable[K] extends { readonly limits: infer L } ? L : unknown);
};
export const limits = Object.fromEntries(
  kernelNames.map((name) => {
    const spec: { readonly args: readonly Arg[]; readonly limits?: object } = kernelTable[name];
    const integers = spec.args.flatMap((arg) =>
      arg.kind === 'integer' ? [[arg.name, { min: arg.min, max: arg.max }]] : [],
    );
    return [name, { ...Object.fromEntries(integers), ...spec.limits }];
  }),
) as Limits;

/**
 * Validates one raw argument against its descriptor, then its `refine` against the validated
 * arguments before it: the validated value, or a TypeError/RangeError naming the argument.
 */
export function checkArg(arg: Arg, value: unknown, before: readonly unknown[]): unknown {
  const out = (check[arg.kind] as (a: Arg, v: unknown) => unknown)(arg, value);
  if (arg.kind === 'integer') arg.refine?.(out as number, before);
  return out;
}

/**
 * Validates raw arguments against a task's descriptors, in argument order (the first failure is
 * thrown, as the addons do), then its cross-argument check. Extra arguments are ignored.
 */
function parser<K extends TaskName>(name: K): (...raw: unknown[]) => KernelArgs[K] {
  const spec: { readonly args: readonly Arg[]; readonly check?: (args: never) => void } = kernelTable[name];
  const args = spec.args;
  return (...raw) => {
    const out: unknown[] = [];
    // An index loop: `args.entries()` allocates an iterator and a pair per argument, per call.
    for (let i = 0; i < args.length; i++) out.push(checkArg(args[i]!, raw[i], out));
    // The descriptors were type-checked against the signature (see `table`): `out` has its shape.
    const parsed = out as KernelArgs[K];
    (spec.check as ((a: KernelArgs[K]) => void) | undefined)?.(parsed);
    return parsed;
  };
}

/**
 * Builds an object with one value per task, from a function of the task's name: how the parse
 * table and the engines' method objects are made. The keys are the table's own, so none can be
 * missing; `make` states each key's own type (see define.ts), which TypeScript cannot carry
 * through Object.fromEntries — hence the cast here (and in perSyncKernel).
 */
export function perTask<M extends { [K in TaskName]: unknown }>(make: (name: TaskName) => M[TaskName]): M {
  return Object.fromEntries(taskNames.map((name) => [name, make(name)])) as M;
}

/** As perTask, for the kernels with a blocking form, under their `${name}Sync` names. */
export function perSyncKernel<M extends { [K in KernelName]: unknown }>(
  make: (name: KernelName) => M[KernelName],
): { [K in keyof M as `${K & string}Sync`]: M[K] } {
  return Object.fromEntries(kernelNames.map((name) => [`${name}Sync`, make(name)])) as never;
}

/** Each task's argument validation: raw values in, validated arguments out, or a TypeError/RangeError. */
export type Parsers<N extends TaskName = TaskName> = { readonly [K in N]: (...raw: unknown[]) => KernelArgs[K] };
export const parse = perTask<Parsers>(<K extends TaskName>(name: K): Parsers<K>[K] => parser(name));

// ---- HTTP --------------------------------------------------------------------------------------

/** A kernel's route as the server mounts it and a client calls it: `/<name>/:strategy`. */
export interface KernelRoute {
  readonly kernel: KernelName;
  /** POST when an argument comes in the body (JSON fields or raw bytes), else GET. */
  readonly method: 'get' | 'post';
  readonly args: readonly Arg[];
  readonly result: ResultEncoding;
  readonly burst: { readonly label: string; readonly value: number; readonly sets: readonly string[] };
  /** A raw body's exact length from the query's integer arguments (see KernelSpec's `http`). */
  readonly bodyLength?: (query: Readonly<Record<string, number>>) => number;
  /** `GET /primes/:strategy?limit=10000000 — count the primes ≤ limit`: the docs' and the 404's line. */
  readonly summary: string;
}

const bodyWords: Record<Arg['kind'], string> = {
  integer: 'a decimal integer',
  binary: 'raw bytes',
  pixels: 'raw RGBA',
};

function kernelRoute(kernel: KernelName): KernelRoute | undefined {
  const spec: { readonly args: readonly Arg[]; readonly http?: KernelSpec['http'] } = kernelTable[kernel];
  if (spec.http === undefined) return undefined;
  const from = (source: ArgSource) => spec.args.filter((arg) => arg.from === source);
  const shown = (arg: Arg) => (arg.kind === 'integer' && arg.default !== undefined ? String(arg.default) : '');
  const method = from('json').length + from('body').length > 0 ? 'post' : 'get';
  const query = from('query')
    .map((arg) => `${arg.name}=${shown(arg)}`)
    .join('&');
  const json = from('json')
    .map((arg) => `"${arg.name}"${shown(arg) && `=${shown(arg)}`}`)
    .join(',');
  const line = [
    `${method.toUpperCase()} /${kernel}/:strategy${query && `?${query}`}`,
    json && `{${json}}`,
    ...from('body').map((arg) => `(body: ${bodyWords[arg.kind]})`),
  ];
  return {
    kernel,
    method,
    args: spec.args,
    result: spec.http.result,
    burst: spec.http.burst,
    ...(spec.http.bodyLength ? { bodyLength: spec.http.bodyLength } : {}),
    summary: `${line.filter(Boolean).join(' ')} — ${spec.http.summary}`,
  };
}

/** Every kernel that has a route, in table order: what the server mounts, the page's forms, the bench's requests. */
export const kernelRoutes: readonly KernelRoute[] = kernelNames.flatMap((name) => kernelRoute(name) ?? []);
