import type { CancelFlag } from './cancel.js';

/** Odd numbers per segment: one byte each, 32 KiB, so a segment stays in L1. */
const SEGMENT = 32 * 1024;

/** Primes p with 3 ≤ p ≤ max, by a plain sieve of odd numbers (max ≤ 65535 here). */
function oddPrimesUpTo(max: number): Uint32Array {
  const composite = new Uint8Array((max >>> 1) + 1);
  const found: number[] = [];
  for (let i = 1; 2 * i + 1 <= max; i++) {
    if (composite[i] !== 0) continue;
    const p = 2 * i + 1;
    found.push(p);
    for (let j = (p * p) >>> 1; j < composite.length; j += p) composite[j] = 1;
  }
  return Uint32Array.from(found);
}

/**
 * π(limit): how many primes are ≤ limit (0 ≤ limit ≤ 2^32 − 1). A segmented sieve over odd
 * numbers only, so memory is O(√limit): 32 KiB plus the base primes below 65536.
 */
export function primes(limit: number, cancel?: CancelFlag): number {
  if (limit < 2) return 0;
  const root = Math.floor(Math.sqrt(limit));
  const base = oddPrimesUpTo(root);
  // next[k]: index (odd number n ↦ (n − 1) / 2) of the next odd multiple of base[k] to strike.
  const next = new Uint32Array(base.length);
  for (let k = 0; k < base.length; k++) next[k] = (base[k]! * base[k]! - 1) / 2;
  const lastIndex = Math.floor((limit - 1) / 2); // index of the largest odd number ≤ limit
  const segment = new Uint8Array(SEGMENT);
  let count = 1; // the prime 2
  for (let low = 0; low <= lastIndex; low += SEGMENT) {
    cancel?.throwIfCancelled();
    const size = Math.min(SEGMENT, lastIndex - low + 1);
    segment.fill(0, 0, size);
    const high = low + size;
    for (let k = 0; k < base.length; k++) {
      const p = base[k]!;
      let j = next[k]!;
      if (j >= high) continue;
      for (j -= low; j < size; j += p) segment[j] = 1;
      next[k] = j + low;
    }
    for (let j = 0; j < size; j++) count += segment[j]! ^ 1;
  }
  return count - 1; // index 0 is the number 1, which is not prime
}
