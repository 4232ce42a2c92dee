import type { CancelFlag } from './cancel.js';
import { compress, digest, IV, sha256, wordsToBytes } from './sha256.js';

/** How often (in iterations) the loop checks its cancel flag. */
const POLL = 256;
/** Bit length of an HMAC-SHA256 message after the 64-byte key block: (64 + 32) · 8. */
const INNER_BITS = 768;

/**
 * PBKDF2-HMAC-SHA256 (RFC 8018). The HMAC key blocks are compressed once per call; each iteration
 * after the first is then exactly two compressions of prepadded word blocks, without copying:
 * the inner hash is written straight into the outer block and the outer hash into the inner one.
 */
export function pbkdf2(
  password: string | Uint8Array,
  salt: string | Uint8Array,
  iterations: number,
  keylen: number,
  cancel?: CancelFlag,
): Buffer {
  const pw = utf8(password);
  const key = pw.length > 64 ? sha256(pw) : pw;
  const keyBlock = new Uint8Array(64);
  keyBlock.set(key);
  const ipad = new Int32Array(16);
  const opad = new Int32Array(16);
  for (let i = 0; i < 16; i++) {
    const word =
      (keyBlock[4 * i]! << 24) | (keyBlock[4 * i + 1]! << 16) | (keyBlock[4 * i + 2]! << 8) | keyBlock[4 * i + 3]!;
    ipad[i] = word ^ 0x36363636;
    opad[i] = word ^ 0x5c5c5c5c;
  }
  const inner = new Int32Array(8);
  const outer = new Int32Array(8);
  compress(IV as Int32Array, ipad, 0, inner);
  compress(IV as Int32Array, opad, 0, outer);

  // [0..8): the hash being fed in, [8]: the 0x80 marker, [15]: the bit length.
  const innerBlock = new Int32Array(16);
  const outerBlock = new Int32Array(16);
  innerBlock[8] = outerBlock[8] = 0x80000000 | 0;
  innerBlock[15] = outerBlock[15] = INNER_BITS;

  salt = utf8(salt);
  const out = Buffer.alloc(keylen);
  const saltIndex = new Uint8Array(salt.length + 4);
  saltIndex.set(salt);
  const t = new Int32Array(8);
  for (let block = 1, at = 0; at < keylen; block++, at += 32) {
    new DataView(saltIndex.buffer).setUint32(salt.length, block);
    outerBlock.set(digest(inner, 64, saltIndex).subarray(0, 8));
    compress(outer, outerBlock, 0, innerBlock); // U1
    t.set(innerBlock.subarray(0, 8));
    for (let i = 1; i < iterations; i++) {
      if (i % POLL === 0) cancel?.throwIfCancelled();
      compress(inner, innerBlock, 0, outerBlock);
      compress(outer, outerBlock, 0, innerBlock);
      for (let k = 0; k < 8; k++) t[k]! ^= innerBlock[k]!;
    }
    wordsToBytes(t, Math.min(32, keylen - at), out, at);
  }
  return out;
}

function utf8(value: string | Uint8Array): Uint8Array {
  return typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
}
