import { pbkdf2Sync } from 'node:crypto';

/**
 * Independent oracles: straightforward, obviously-correct versions of the kernels' definitions,
 * sharing no code with the kernels under test.
 */

/** π(n) for small n by a plain sieve. */
export function naivePrimeCounts(max: number): Uint32Array {
  const composite = new Uint8Array(max + 1);
  const counts = new Uint32Array(max + 1);
  let count = 0;
  for (let n = 0; n <= max; n++) {
    if (n >= 2 && composite[n] === 0) {
      count++;
      for (let m = n * n; m <= max; m += n) composite[m] = 1;
    }
    counts[n] = count;
  }
  return counts;
}

/** The box blur exactly as native/README.md defines it: O(r) per pixel, no running sums. */
export function naiveBlur(src: Uint8Array, w: number, h: number, r: number): Uint8Array {
  const d = 2 * r + 1;
  const clamp = (v: number, hi: number) => Math.min(Math.max(v, 0), hi);
  const tmp = new Uint8Array(src.length);
  const out = new Uint8Array(src.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 4; c++) {
        let s = 0;
        for (let k = -r; k <= r; k++) s += src[(y * w + clamp(x + k, w - 1)) * 4 + c]!;
        tmp[(y * w + x) * 4 + c] = Math.floor((s + r) / d);
      }
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < 4; c++) {
        let s = 0;
        for (let k = -r; k <= r; k++) s += tmp[(clamp(y + k, h - 1) * w + x) * 4 + c]!;
        out[(y * w + x) * 4 + c] = Math.floor((s + r) / d);
      }
  return out;
}

/**
 * What a kernel call must give, from README's "Kernels and their bounds" alone (no code shared
 * with src/): the first bad argument, in argument order, throws a TypeError (wrong type) or a
 * RangeError (not an integer, out of bounds, wrong length); otherwise the value, computed by the
 * oracles here and node:crypto. `primesUpTo` bounds the π table (callers keep limits below it).
 */
export function specOracle(primesUpTo: number) {
  const pi = naivePrimeCounts(primesUpTo);
  const typeError = { error: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' } as const;
  const rangeError = { error: 'RangeError', code: 'ERR_OUT_OF_RANGE' } as const;
  type Verdict = typeof typeError | typeof rangeError | undefined;
  const integer = (v: unknown, min: number, max: number): Verdict =>
    typeof v !== 'number' ? typeError : Number.isInteger(v) && v >= min && v <= max ? undefined : rangeError;
  /** A detached buffer can no longer be viewed (Node 20 has no ArrayBuffer#detached). */
  const detached = (v: ArrayBufferView) => {
    try {
      new Uint8Array(v.buffer);
      return false;
    } catch {
      return true;
    }
  };
  const bytes = (v: unknown, clampedToo: boolean): Verdict =>
    (v instanceof Uint8Array || (clampedToo && v instanceof Uint8ClampedArray)) && !detached(v) ? undefined : typeError;
  const binaryLike = (v: unknown): Verdict => (typeof v === 'string' ? undefined : bytes(v, false));
  const copy = (v: unknown) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v as Uint8Array));
  const firstBad = (...checks: (() => Verdict)[]) => {
    for (const check of checks) {
      const verdict = check();
      if (verdict) return verdict;
    }
    return undefined;
  };

  const kernels = {
    primes: (limit: unknown) => firstBad(() => integer(limit, 0, 2 ** 32 - 1)) ?? { value: pi[limit as number] },
    pbkdf2: (password: unknown, salt: unknown, iterations: unknown, keylen: unknown) =>
      firstBad(
        () => binaryLike(password),
        () => binaryLike(salt),
        () => integer(iterations, 1, 100_000_000),
        () => integer(keylen, 1, 1024),
      ) ?? { value: pbkdf2Sync(copy(password), copy(salt), iterations as number, keylen as number, 'sha256') },
    blur: (rgba: unknown, width: unknown, height: unknown, radius: unknown) => {
      const [w, h, r] = [width, height, radius] as number[];
      const view = rgba as Uint8Array;
      return (
        firstBad(
          () => bytes(rgba, true),
          () => integer(width, 1, 65_535),
          () => integer(height, 1, 65_535),
          () => (w! * h! > 2 ** 26 ? rangeError : undefined),
          () => integer(radius, 0, 65_535),
          () => (view.length !== w! * h! * 4 ? rangeError : undefined),
        ) ?? { value: naiveBlur(new Uint8Array(view.buffer, view.byteOffset, view.length), w!, h!, r!) }
      );
    },
    sleep: (ms: unknown) => firstBad(() => integer(ms, 0, 60_000)) ?? { value: undefined },
  };
  return (kernel: keyof typeof kernels, args: unknown[]): { value: unknown } | { error: string; code: string } => {
    const fn = kernels[kernel] as (...a: unknown[]) => { value: unknown } | { error: string; code: string };
    return fn(...args.slice(0, fn.length), ...Array(Math.max(0, fn.length - args.length)).fill(undefined));
  };
}
