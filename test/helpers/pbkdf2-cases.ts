import { rng } from './random.js';

export interface Pbkdf2Case {
  password: string | Buffer;
  salt: string | Buffer;
  iterations: number;
  keylen: number;
}

/** Seeded PBKDF2 cases: empty and > 64-byte passwords and salts, keylen not a multiple of 32. */
export function pbkdf2Cases(seed: number, count: number): Pbkdf2Case[] {
  const r = rng(seed);
  const length = () => r.pick([0, 0, 1, 3, 31, 32, 55, 56, 63, 64, 65, 100, 119, 120, 128, 200, r.int(0, 300)]);
  const bytesOrString = (n: number) => (r.next() < 0.2 ? 'é'.repeat(n >> 1) + 'x'.repeat(n & 1) : r.bytes(n));
  return Array.from({ length: count }, () => ({
    password: bytesOrString(length()),
    salt: bytesOrString(length()),
    iterations: r.next() < 0.1 ? r.int(100, 2000) : r.int(1, 20),
    keylen: r.pick([1, 2, 16, 20, 31, 32, 33, 47, 63, 64, 65, 96, 100, 128, 255, r.int(1, 1024)]),
  }));
}
