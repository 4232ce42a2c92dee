import { execFile } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const root = fileURLToPath(new URL('../../', import.meta.url));

test('building from source without cargo says what to install, before compiling anything', async (t) => {
  const env = { PATH: dirname(process.execPath), HOME: process.env.HOME ?? '/', CARGO: '/nonexistent/cargo' };
  const error = await t.throwsAsync(
    promisify(execFile)(process.execPath, ['scripts/install.mjs', '--from-source'], { cwd: root, env }),
  );
  const { code, stdout, stderr } = error as Error & { code: number; stdout: string; stderr: string };
  t.is(code, 1);
  t.regex(stderr, /building the Rust addon needs cargo ≥ 1\.85 \(found: \/nonexistent\/cargo: not found\)/);
  t.regex(stderr, /rustup/);
  t.notRegex(stdout + stderr, /C\+\+ addon:|at .*\.js:\d+/, 'nothing was built and no stack trace was printed');
});
