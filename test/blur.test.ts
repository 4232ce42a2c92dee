import test from 'ava';
import { asyncEngines, syncEngines } from './helpers/engines.js';
import { naiveBlur } from './helpers/oracle.js';
import { rng } from './helpers/random.js';

const r = rng(7);
const shapes: [number, number, number][] = [
  [1, 1, 0],
  [1, 1, 1],
  [1, 1, 5],
  [1, 9, 2],
  [9, 1, 2],
  [1, 17, 40],
  [17, 1, 40],
  [5, 4, 0],
  [5, 4, 1],
  [5, 4, 4],
  [5, 4, 5],
  [5, 4, 100],
  [16, 16, 3],
  [31, 7, 6],
  [64, 48, 2],
  ...Array.from({ length: 12 }, (): [number, number, number] => [r.int(1, 40), r.int(1, 40), r.int(0, 45)]),
  // Every SIMD path of both addons (native/cpp/blur.cc, native/rust/src/kernels/blur.rs): the
  // narrow divisor (d = 2r+1 ≤ 181, r ≤ 90) and the wide one (r ≥ 91), each with rows shorter
  // than a vector, exactly one, and many with a tail (8 px = 32 bytes = one AVX2 register, 32 px
  // = four), images shorter and taller than the 2r+2-row ring.
  ...[89, 90, 91, 92, 130].flatMap((radius) =>
    [
      [3, 5],
      [7, 4],
      [8, 3],
      [9, 200],
      [31, 2],
      [32, 190],
      [33, 7],
      [67, 3],
    ].map(([w, h]): [number, number, number] => [w!, h!, radius]),
  ),
  [40, 2, 1000],
  [8, 1, 65_535],
  [1, 40, 300],
];
const images = shapes.map(([w, h, radius]) => {
  const rgba = r.bytes(w * h * 4);
  return { w, h, radius, rgba, expected: naiveBlur(rgba, w, h, radius) };
});
test('the seeded shapes reach every blur path: r ≤ 90 and r ≥ 91, each with widths ≥ 8 and ≥ 32 px', (t) => {
  for (const wide of [false, true]) {
    for (const minWidth of [8, 32]) {
      t.true(
        shapes.some(([w, , radius]) => w >= minWidth && radius >= 91 === wide && radius > 0),
        `wide ${wide}, width ≥ ${minWidth}`,
      );
    }
  }
});
const label = ({ w, h, radius }: { w: number; h: number; radius: number }) => `${w}×${h} r=${radius}`;

for (const engine of syncEngines) {
  test(
    `${engine.name}.blurSync equals the definition on seeded images ` +
      '(1×1, width 1, height 1, radius 0, radius ≥ size)',
    (t) => {
      for (const img of images) {
        const out = engine.blurSync(img.rgba, img.w, img.h, img.radius);
        t.true(Buffer.isBuffer(out));
        t.deepEqual(new Uint8Array(out), img.expected, label(img));
      }
    },
  );
}

for (const engine of asyncEngines) {
  test(`${engine.name}.blur equals the definition on seeded images`, async (t) => {
    const outs = await Promise.all(images.map((img) => engine.blur(img.rgba, img.w, img.h, img.radius)));
    for (const [i, img] of images.entries()) {
      t.deepEqual(new Uint8Array(outs[i]!), img.expected, label(img));
    }
  });
}

test('every engine agrees bit for bit on a larger image', async (t) => {
  const [w, h, radius] = [301, 203, 9];
  const rgba = rng(99).bytes(w * h * 4);
  const reference = syncEngines[0]!.blurSync(rgba, w, h, radius);
  for (const engine of syncEngines) t.deepEqual(engine.blurSync(rgba, w, h, radius), reference, engine.name);
  for (const engine of asyncEngines) t.deepEqual(await engine.blur(rgba, w, h, radius), reference, engine.name);
});

test('blur accepts a Uint8ClampedArray and leaves its input untouched', async (t) => {
  const rgba = new Uint8ClampedArray(rng(3).bytes(6 * 5 * 4));
  const copy = rgba.slice();
  const expected = naiveBlur(new Uint8Array(rgba.buffer), 6, 5, 2);
  for (const engine of syncEngines) t.deepEqual(new Uint8Array(engine.blurSync(rgba, 6, 5, 2)), expected, engine.name);
  for (const engine of asyncEngines)
    t.deepEqual(new Uint8Array(await engine.blur(rgba, 6, 5, 2)), expected, engine.name);
  t.deepEqual(rgba, copy);
});
