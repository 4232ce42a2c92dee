import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';

const exec = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const npmCli = process.env.npm_execpath?.endsWith('.js')
  ? process.env.npm_execpath
  : join(process.execPath, '../../lib/node_modules/npm/bin/npm-cli.js');

test('the packed tarball installs and works in another project without a compiler', async (t) => {
  t.timeout(5 * 60_000);
  const work = mkdtempSync(join(tmpdir(), 'offloop-pack-'));
  t.teardown(() => rmSync(work, { recursive: true, force: true }));

  // Pack a copy of the tree as `npm pack` would after its prepack build (the addons and dist/
  // are already built by `npm install`), so the test leaves the working tree untouched.
  const staging = join(work, 'staging');
  mkdirSync(staging);
  for (const entry of ['package.json', 'README.md', 'binding.gyp', 'dist', 'native', 'scripts', 'build']) {
    if (existsSync(join(repo, entry)))
      cpSync(join(repo, entry), join(staging, entry), { recursive: true, filter: (p) => !p.includes('/target/') });
  }
  await exec(process.execPath, [join(staging, 'scripts/prebuilds.mjs')]);
  const { stdout: packed } = await exec(
    process.execPath,
    [npmCli, 'pack', '--ignore-scripts', '--json', '--pack-destination', work],
    { cwd: staging },
  );
  const [{ filename, files }] = JSON.parse(packed) as [{ filename: string; files: { path: string }[] }];
  const paths = files.map((f) => f.path);
  const platform = `${process.platform}-${process.arch}`;
  t.true(paths.includes(`prebuilds/${platform}/offloop_cpp.node`));
  t.true(paths.includes(`prebuilds/${platform}/offloop_rust.node`));
  t.true(paths.includes('dist/src/index.d.ts'));
  // What a build from source needs, where no prebuild fits.
  for (const source of [
    'binding.gyp',
    'scripts/install.mjs',
    'native/cpp/addon.cc',
    'native/rust/Cargo.toml',
    'native/rust/napi.json',
    'native/rust/build.rs',
    'native/rust/src/lib.rs',
  ]) {
    t.true(paths.includes(source), source);
  }
  t.false(paths.some((p) => p.startsWith('dist/test/') || p.startsWith('build/') || p.includes('/target/')));

  // The consumer's PATH holds node and a shell (npm runs scripts with sh) and nothing else:
  // no cc, g++, make, python or cargo to build with.
  const consumer = join(work, 'consumer');
  const bin = join(work, 'bin');
  mkdirSync(consumer);
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync('/bin/sh', join(bin, 'sh'));
  writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const env = { ...process.env, PATH: bin, npm_config_nodedir: undefined, npm_config_node_gyp: undefined };
  await exec(
    process.execPath,
    [npmCli, 'install', '--no-audit', '--no-fund', '--prefer-offline', join(work, filename)],
    { cwd: consumer, env },
  );
  const installed = join(consumer, 'node_modules/offloop');
  t.false(existsSync(join(installed, 'build')), 'nothing was compiled');
  t.deepEqual(readdirSync(join(installed, 'prebuilds', platform)).sort(), ['offloop_cpp.node', 'offloop_rust.node']);

  writeFileSync(
    join(consumer, 'main.ts'),
    [
      "import { cpp, rust, type Engine } from 'offloop';",
      'const engines: Engine[] = [cpp, rust];',
      'const key: Buffer = await rust.pbkdf2("pw", "salt", 1, 8);',
      'const count: number = await cpp.primes(100);',
      '// Never called: there only for the compiler, which must reject it.',
      '// @ts-expect-error: limit must be a number',
      'export const mistyped = () => cpp.primesSync("100");',
      'console.log(JSON.stringify([engines.map((e) => e.primesSync(1000)), count, key.toString("hex")]));',
    ].join('\n'),
  );
  await exec(
    process.execPath,
    [
      join(repo, 'node_modules/typescript/bin/tsc'),
      '--strict',
      '--module',
      'nodenext',
      '--target',
      'es2022',
      '--types',
      'node',
      '--typeRoots',
      join(repo, 'node_modules/@types'),
      '--skipLibCheck',
      'false',
      'main.ts',
    ],
    { cwd: consumer },
  );
  const { stdout } = await exec(process.execPath, ['main.js'], { cwd: consumer, env });
  t.deepEqual(JSON.parse(stdout), [[168, 168], 25, '6f4ad8c78ec365c0']);
});
