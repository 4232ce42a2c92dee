import { pbkdf2Sync } from 'node:crypto';
import test from 'ava';
import { offloadEngines, poolSize } from './helpers/engines.js';
import { naiveBlur, naivePrimeCounts } from './helpers/oracle.js';
import { rng } from './helpers/random.js';

const counts = naivePrimeCounts(200_000);

for (const engine of offloadEngines) {
  const n = 4 * poolSize(engine.name);

  test(`${engine.name}: ${n} concurrent tasks (4× the pool) of each kernel all resolve correctly`, async (t) => {
    const r = rng(n);
    const limits = Array.from({ length: n }, () => r.int(0, 200_000));
    const salts = Array.from({ length: n }, (_, i) => `salt-${i}`);
    const images = Array.from({ length: n }, () => ({ w: r.int(1, 24), h: r.int(1, 24), radius: r.int(0, 6) })).map(
      (s) => ({ ...s, rgba: r.bytes(s.w * s.h * 4) }),
    );
    const [primes, keys, blurred, slept, nooped] = await Promise.all([
      Promise.all(limits.map((l) => engine.primes(l))),
      Promise.all(salts.map((s) => engine.pbkdf2('pw', s, 2000, 40))),
      Promise.all(images.map((i) => engine.blur(i.rgba, i.w, i.h, i.radius))),
      Promise.all(Array.from({ length: n }, () => engine.sleep(5))),
      Promise.all(Array.from({ length: n }, () => engine.noop())),
    ]);
    t.deepEqual(
      primes,
      limits.map((l) => counts[l]),
    );
    t.deepEqual(
      keys.map((k) => k.toString('hex')),
      salts.map((s) => pbkdf2Sync('pw', s, 2000, 40, 'sha256').toString('hex')),
    );
    for (const [i, img] of images.entries())
      t.deepEqual(new Uint8Array(blurred[i]!), naiveBlur(img.rgba, img.w, img.h, img.radius));
    t.deepEqual(slept, Array(n).fill(undefined));
    t.deepEqual(nooped, Array(n).fill(undefined));
  });

  test(`${engine.name}: a caller may reuse its input buffer at once`, async (t) => {
    const rgba = rng(5).bytes(8 * 8 * 4);
    const expected = naiveBlur(rgba, 8, 8, 2);
    const password = Buffer.from('secret');
    const pending = [engine.blur(rgba, 8, 8, 2), engine.pbkdf2(password, 'salt', 10, 32)];
    rgba.fill(0);
    password.fill(0);
    const [blurred, key] = await Promise.all(pending);
    t.deepEqual(new Uint8Array(blurred!), expected);
    t.is(key!.toString('hex'), pbkdf2Sync('secret', 'salt', 10, 32, 'sha256').toString('hex'));
  });
}

test('sleep waits at least as long as asked, on every engine', async (t) => {
  for (const engine of offloadEngines) {
    const start = performance.now();
    await engine.sleep(30);
    t.true(performance.now() - start >= 29, engine.name); // a lower bound only: never a speed claim
  }
});
