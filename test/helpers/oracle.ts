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
