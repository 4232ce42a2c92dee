/**
 * SHA-256 (FIPS 180-4) on 32-bit words: the compression function and a one-shot digest that can
 * continue from a precomputed state. Word-oriented so PBKDF2 never converts bytes in its loop.
 */
// biome-ignore format: the round constants, eight to a line as FIPS 180-4 prints them
const K = Int32Array.of(
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
);

// biome-ignore format: the initial hash value, one line as FIPS 180-4 prints it
export const IV: Readonly<Int32Array> = Int32Array.of(
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
);

const W = new Int32Array(64);

/**
 * out[0..8) = compress(state, block[offset .. offset+16)). `out` may be `state`, not `block`.
 */
// biome-ignore format: the round's register shuffle reads best as the spec lays it out
export function compress(state: Int32Array, block: Int32Array, offset: number, out: Int32Array): void {
  const w = W;
  for (let i = 0; i < 16; i++) w[i] = block[offset + i]!;
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!;
  let e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  out[0] = (state[0]! + a) | 0; out[1] = (state[1]! + b) | 0;
  out[2] = (state[2]! + c) | 0; out[3] = (state[3]! + d) | 0;
  out[4] = (state[4]! + e) | 0; out[5] = (state[5]! + f) | 0;
  out[6] = (state[6]! + g) | 0; out[7] = (state[7]! + h) | 0;
}

/**
 * The SHA-256 state after hashing `bytes` and padding, starting from `state`, which has already
 * absorbed `prefixBytes` bytes (a multiple of 64). Used for HMAC's first message and long keys.
 */
export function digest(state: Readonly<Int32Array>, prefixBytes: number, bytes: Uint8Array): Int32Array {
  const out = Int32Array.from(state);
  const block = new Int32Array(16);
  const n = bytes.length;
  const full = n - (n % 64);
  for (let at = 0; at < full; at += 64) {
    for (let i = 0; i < 16; i++) {
      const p = at + 4 * i;
      block[i] = (bytes[p]! << 24) | (bytes[p + 1]! << 16) | (bytes[p + 2]! << 8) | bytes[p + 3]!;
    }
    compress(out, block, 0, out);
  }
  // The tail, the 0x80 marker and the 64-bit big-endian bit length: one or two blocks.
  const tail = new Uint8Array(n - full < 56 ? 64 : 128);
  tail.set(bytes.subarray(full));
  tail[n - full] = 0x80;
  const total = prefixBytes + n;
  const view = new DataView(tail.buffer);
  view.setUint32(tail.length - 8, Math.floor(total / 2 ** 29));
  view.setUint32(tail.length - 4, (total * 8) >>> 0);
  for (let at = 0; at < tail.length; at += 64) {
    for (let i = 0; i < 16; i++) block[i] = view.getInt32(at + 4 * i);
    compress(out, block, 0, out);
  }
  return out;
}

/** The 32-byte SHA-256 of `bytes`. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return wordsToBytes(digest(IV, 0, bytes), 32);
}

/** The first `length` bytes of big-endian `words`. */
export function wordsToBytes(words: Int32Array, length: number, out = new Uint8Array(length), at = 0): Uint8Array {
  for (let i = 0; i < length; i++) out[at + i] = words[i >>> 2]! >>> (24 - 8 * (i & 3));
  return out;
}
