/** The shared seeded generator, for the tests' relative imports (see rng.mjs). */
export { type Random, rng } from '#rng';
