import { execFile, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';

// The Rust addon's own unit tests (native/rust: the exact divider for every blur divisor, the SHA
// backends against each other, RFC 7914, the sieve's square roots) run inside `npm test` too.
// `--release` shares the addon's build profile, so only the test harness is compiled.
const crate = fileURLToPath(new URL('../../native/rust/', import.meta.url));
const hasCargo = spawnSync('cargo', ['--version'], { stdio: 'ignore' }).status === 0;

if (!hasCargo) {
  test.skip('cargo test in native/rust: skipped, cargo is not on PATH (install a Rust toolchain ≥ 1.85)', () => {});
  console.log('cargo.test: cargo is not on PATH, so the Rust unit tests are skipped');
} else {
  test('cargo test --release --offline passes in native/rust', async (t) => {
    t.timeout(5 * 60_000); // a first run compiles the test harness
    const { code, output } = await new Promise<{ code: number; output: string }>((resolve) => {
      execFile(
        'cargo',
        ['test', '--release', '--offline'],
        { cwd: crate, maxBuffer: 64 << 20 },
        (error, stdout, stderr) =>
          resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
      );
    });
    t.is(code, 0, output);
    const passed = [...output.matchAll(/test result: ok\. (\d+) passed/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    t.true(passed > 0, `no Rust test ran:\n${output}`);
    t.log(`${passed} Rust unit tests passed`);
  });
}
