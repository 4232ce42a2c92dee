// The one seeded pseudo-random generator of the tests, the bench and the memory workload
// (mulberry32), so that every random case, image and password can be replayed from its seed.
//
// Plain JavaScript (typed by rng.d.mts beside it) because test/memory/exercise.mjs runs
// uncompiled, under valgrind; the TypeScript in test/ and bench/ imports it as `#rng`
// (package.json "imports"), which resolves to this file from the sources and from dist alike.

/** @param {number} seed */
export function rng(seed) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** An integer in [min, max]. */
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    bytes(length) {
      const out = Buffer.alloc(length);
      for (let i = 0; i < length; i++) out[i] = Math.floor(next() * 256);
      return out;
    },
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}
