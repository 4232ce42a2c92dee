import { execFile } from 'node:child_process';
import { pbkdf2Sync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { cpp, rust } from '../src/index.js';
import { asyncEngines, syncEngines } from './helpers/engines.js';
import { pbkdf2Cases } from './helpers/pbkdf2-cases.js';

const cases = pbkdf2Cases(2024, 200);
const expected = cases.map(({ password, salt, iterations, keylen }) =>
  pbkdf2Sync(password, salt, iterations, keylen, 'sha256').toString('hex'),
);

// RFC 7914 §11: the PBKDF2-HMAC-SHA256 test vectors.
const rfc7914: { args: [string, string, number, number]; key: string }[] = [
  {
    args: ['passwd', 'salt', 1, 64],
    key:
      '55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc' +
      '49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783',
  },
  {
    args: ['Password', 'NaCl', 80000, 64],
    key:
      '4ddcd8f60b98be21830cee5ef22701f9641a4418d04c0414aeff08876b34ab56' +
      'a1d425a1225833549adb841b51c9b3176a272bdebba1d078478f62b397f33c8d',
  },
];

test('the seeded cases cover the edges the issue names', (t) => {
  t.true(cases.some((c) => c.password.length === 0));
  t.true(cases.some((c) => c.password.length > 64));
  t.true(cases.some((c) => c.salt.length === 0));
  t.true(cases.some((c) => c.salt.length > 64));
  t.true(cases.some((c) => c.keylen % 32 !== 0 && c.keylen > 32));
  t.true(cases.some((c) => typeof c.password === 'string'));
});

for (const engine of syncEngines) {
  test(`${engine.name}.pbkdf2Sync matches node:crypto on ${cases.length} seeded cases`, (t) => {
    for (const [i, c] of cases.entries()) {
      t.is(engine.pbkdf2Sync(c.password, c.salt, c.iterations, c.keylen).toString('hex'), expected[i]!, `case ${i}`);
    }
  });

  test(`${engine.name}.pbkdf2Sync gives the RFC 7914 §11 vectors`, (t) => {
    for (const { args, key } of rfc7914) t.is(engine.pbkdf2Sync(...args).toString('hex'), key);
  });
}

for (const engine of asyncEngines) {
  test(`${engine.name}.pbkdf2 matches node:crypto on ${cases.length} seeded cases`, async (t) => {
    const keys = await Promise.all(cases.map((c) => engine.pbkdf2(c.password, c.salt, c.iterations, c.keylen)));
    t.deepEqual(
      keys.map((k) => k.toString('hex')),
      expected,
    );
    t.true(keys.every((k) => Buffer.isBuffer(k)));
  });

  test(`${engine.name}.pbkdf2 gives the RFC 7914 §11 vectors`, async (t) => {
    for (const { args, key } of rfc7914) t.is((await engine.pbkdf2(...args)).toString('hex'), key);
  });
}

const cpuHasShaNi = (() => {
  try {
    return /^flags\s*:.*\bsha_ni\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return undefined; // not Linux: nothing to compare the choice against
  }
})();

test('the addons choose SHA-NI exactly when the CPU has it', (t) => {
  if (cpuHasShaNi === undefined) return t.pass('no /proc/cpuinfo here');
  t.is(cpp.shaBackend, cpuHasShaNi ? 'sha-ni' : 'portable');
  t.is(rust.shaBackend, cpuHasShaNi ? 'sha-ni' : 'portable');
});

// The backend is fixed when an addon loads, so each path is checked in a child process.
const fixture = new URL('./fixtures/pbkdf2-native.js', import.meta.url);
for (const sha of ['portable', 'sha-ni'] as const) {
  test(`OFFLOOP_SHA=${sha}: both addons match node:crypto on the seeded cases`, async (t) => {
    const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(fixture), '2024', '200'], {
      env: { ...process.env, OFFLOOP_SHA: sha },
      maxBuffer: 64 << 20,
    });
    const report = JSON.parse(stdout) as Record<'cpp' | 'rust', { backend: string; keys: string[] }>;
    for (const name of ['cpp', 'rust'] as const) {
      t.is(report[name].backend, sha === 'portable' || cpuHasShaNi !== false ? sha : 'portable', name);
      t.deepEqual(report[name].keys, expected, name);
    }
  });
}
