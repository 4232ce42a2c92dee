import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { sha256File, UwsDigestError, uwsBinary, verifyUws } from '../src/server/uws.js';
import { uwsDigests } from '../src/server/uws-digests.js';

const dir = mkdtempSync(join(tmpdir(), 'offloop-uws-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));
const real = uwsBinary();

/** A copy of the real binary under the same name, one byte changed. */
function tampered(): string {
  const copy = join(dir, basename(real));
  copyFileSync(real, copy);
  const bytes = readFileSync(copy);
  bytes[bytes.length >> 1]! ^= 0xff;
  writeFileSync(copy, bytes);
  return copy;
}

test('the installed binary matches its committed digest (the table covers linux-x64 for Node 18–25)', (t) => {
  t.notThrows(() => verifyUws(real, uwsDigests, {}));
  t.is(sha256File(real), uwsDigests[basename(real)] ?? 'no digest');
  for (const abi of [108, 115, 127, 137, 141]) t.regex(uwsDigests[`uws_linux_x64_${abi}.node`] ?? '', /^[0-9a-f]{64}$/);
});

test('a tampered binary is refused, naming the file and both digests', (t) => {
  const copy = tampered();
  const actual = sha256File(copy);
  const expected = uwsDigests[basename(real)]!;
  t.not(actual, expected);
  const error = t.throws(() => verifyUws(copy, uwsDigests, {}), { instanceOf: UwsDigestError });
  t.is(error!.code, 'ERR_UWS_DIGEST');
  t.true(
    error!.message.includes(copy) && error!.message.includes(actual) && error!.message.includes(expected),
    error!.message,
  );
  t.like(error, { file: copy, expected, actual });
});

test('a binary with no committed digest is refused; the overrides are honoured', (t) => {
  const copy = tampered();
  const actual = sha256File(copy);
  t.throws(() => verifyUws(copy, {}, {}), { instanceOf: UwsDigestError, message: /no digest is committed/ });
  t.notThrows(() => verifyUws(copy, uwsDigests, { OFFLOOP_UWS_DIGEST: actual.toUpperCase() }));
  t.throws(() => verifyUws(real, uwsDigests, { OFFLOOP_UWS_DIGEST: actual }), { instanceOf: UwsDigestError });
  t.notThrows(() => verifyUws(copy, uwsDigests, { OFFLOOP_UWS_SKIP_DIGEST: '1' }));
});

test('loading the server with a digest that does not match fails before uWS loads, saying why', async (t) => {
  const uws = fileURLToPath(new URL('../src/server/uws.js', import.meta.url));
  const wrong = '0'.repeat(64);
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = execFile(
      process.execPath,
      ['-e', `import(${JSON.stringify(uws)}).then(() => console.log('loaded'))`],
      { env: { ...process.env, OFFLOOP_UWS_DIGEST: wrong } },
      (_e, _out, stderr) => resolve({ code: child.exitCode, stderr }),
    );
  });
  t.not(code, 0);
  t.regex(stderr, /UwsDigestError/);
  t.true(stderr.includes(real) && stderr.includes(wrong), stderr);
});
