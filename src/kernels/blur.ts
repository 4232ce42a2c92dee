import type { CancelFlag } from './cancel.js';

/**
 * Separable box blur of RGBA8 pixels with clamped edges (native/README.md gives the formula).
 * Each pass rounds to the nearest byte — ⌊(sum + r) / d⌋ with d = 2r + 1 odd — so TS, C++ and
 * Rust agree bit for bit. Running sums make the cost O(width·height) whatever the radius.
 */
export function blur(rgba: Uint8Array, width: number, height: number, radius: number, cancel?: CancelFlag): Buffer {
  const out = Buffer.allocUnsafeSlow(width * height * 4);
  if (radius === 0) {
    out.set(rgba);
    return out;
  }
  const tmp = new Uint8Array(out.length);
  blurRows(rgba, tmp, width, height, radius, cancel);
  blurColumns(tmp, out, width, height, radius, cancel);
  return out;
}

/** Pass 1: each row, each channel, a running sum along x. */
function blurRows(
  src: Uint8Array,
  dst: Uint8Array,
  width: number,
  height: number,
  r: number,
  cancel?: CancelFlag,
): void {
  const d = 2 * r + 1;
  const last = width - 1;
  const inner = Math.min(r, last); // how many pixels right of the first are inside the first window
  for (let y = 0; y < height; y++) {
    cancel?.throwIfCancelled();
    const row = y * width * 4;
    for (let c = 0; c < 4; c++) {
      const first = src[row + c]!;
      const lastPx = src[row + last * 4 + c]!;
      let sum = (r + 1) * first + (r - inner) * lastPx;
      for (let x = 1; x <= inner; x++) sum += src[row + x * 4 + c]!;
      for (let x = 0; x < width; x++) {
        dst[row + x * 4 + c] = ((sum + r) / d) | 0;
        const add = x + r + 1;
        const sub = x - r;
        // biome-ignore lint/complexity/useMathMinMax: a compare in the inner loop, not two calls
        sum += src[row + (add < last ? add : last) * 4 + c]! - src[row + (sub > 0 ? sub : 0) * 4 + c]!;
      }
    }
  }
}

/** Pass 2: a row of column sums slides down the image, so each step touches whole rows. */
function blurColumns(
  src: Uint8Array,
  dst: Uint8Array,
  width: number,
  height: number,
  r: number,
  cancel?: CancelFlag,
): void {
  const d = 2 * r + 1;
  const stride = width * 4;
  const last = height - 1;
  const inner = Math.min(r, last);
  const sums = new Uint32Array(stride);
  const lastRow = last * stride;
  for (let i = 0; i < stride; i++) sums[i] = (r + 1) * src[i]! + (r - inner) * src[lastRow + i]!;
  for (let y = 1; y <= inner; y++) {
    const row = y * stride;
    for (let i = 0; i < stride; i++) sums[i]! += src[row + i]!;
  }
  for (let y = 0; y < height; y++) {
    cancel?.throwIfCancelled();
    const row = y * stride;
    const add = y + r + 1;
    const sub = y - r;
    // biome-ignore lint/complexity/useMathMinMax: as in the row pass
    const addRow = (add < last ? add : last) * stride;
    // biome-ignore lint/complexity/useMathMinMax: as in the row pass
    const subRow = (sub > 0 ? sub : 0) * stride;
    for (let i = 0; i < stride; i++) {
      const sum = sums[i]!;
      dst[row + i] = ((sum + r) / d) | 0;
      sums[i] = sum + src[addRow + i]! - src[subRow + i]!;
    }
  }
}
