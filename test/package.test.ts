import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { peersOf } from '../src/server/peers.js';
import { importGraph } from './helpers/import-graph.js';

const exec = promisify(execFile);
const repo = fileURLToPath(new URL('../../', import.meta.url));
const npmCli = process.env.npm_execpath?.endsWith('.js')
  ? process.env.npm_execpath
  : join(process.execPath, '../../lib/node_modules/npm/bin/npm-cli.js');

const manifest = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
};
const dependencies = Object.keys(manifest.dependencies);
const optionalPeers = Object.keys(manifest.peerDependencies).filter((n) => manifest.peerDependenciesMeta[n]?.optional);
const serverPeers: readonly string[] = peersOf.server.packages;
const workerPeers: readonly string[] = peersOf.worker.packages;
const queuePeers: readonly string[] = peersOf.queue.packages;
/** The packages `entry` (under dist/) loads with it, or may load later too with `dynamic`. */
const packagesOf = (entry: string, dynamic = false) => [
  ...importGraph(join(repo, 'dist', entry), { dynamic }).packages,
];

test("import graphs: the library reaches no optional peer; the server's and the worker's are checked", (t) => {
  t.true(optionalPeers.includes('uWebSockets.js') && optionalPeers.includes('pino'), 'read from package.json');
  // Everything import 'offloop' may ever load, dynamic imports included: its dependencies only.
  t.deepEqual(
    packagesOf('src/index.js', true).filter((p) => !dependencies.includes(p)),
    [],
  );
  // What the server and the worker load beyond the library is declared optional and checked first.
  for (const peer of [...serverPeers, ...workerPeers, ...queuePeers]) t.true(optionalPeers.includes(peer), peer);
  const beyond = (entry: string) => packagesOf(entry).filter((p) => !dependencies.includes(p));
  t.deepEqual(
    beyond('src/server/app.js').filter((p) => !serverPeers.includes(p)),
    [],
  );
  t.deepEqual(
    beyond('src/main.js').filter((p) => !serverPeers.includes(p)),
    [],
  );
  // The queue's producer is loaded only when REDIS_URL asks for it, after its own check.
  t.deepEqual(
    packagesOf('src/server/app.js', true).filter((p) => !dependencies.includes(p) && !serverPeers.includes(p)),
    [...queuePeers].sort(),
  );
  t.deepEqual(
    beyond('src/queue/worker-main.js').filter((p) => !workerPeers.includes(p)),
    [],
  );
  t.true(beyond('src/server/app.js').includes('uWebSockets.js'), 'the graph sees uws.ts require it');
  // The entries that check for them load none of them before checking.
  for (const entry of ['src/cli.js', 'src/server/index.js']) t.deepEqual(beyond(entry), [], entry);
});

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
  // npm installs no optional peer dependency unasked: the consumer has none of the server's parts.
  for (const peer of optionalPeers) t.false(existsSync(join(consumer, 'node_modules', peer)), `${peer} not installed`);
  t.deepEqual(readdirSync(join(installed, 'prebuilds', platform)).sort(), ['offloop_cpp.node', 'offloop_rust.node']);

  writeFileSync(
    join(consumer, 'main.ts'),
    [
      "import { cpp, cppPool, engines, js, rust, rustPool, workers, type Engine } from 'offloop';",
      'const sync: Engine[] = [js, cpp, rust];',
      'const key: Buffer = await rust.pbkdf2("pw", "salt", 1, 8);',
      "// Every engine runs a kernel: on the loop, worker threads, libuv's pool and the addons' own pools.",
      'const counts = await Promise.all(Object.values(engines).map((e) => e.primes(100)));',
      'await Promise.all([workers.close(), cppPool.close(), rustPool.close()]);',
      '// Never called: there only for the compiler, which must reject it.',
      '// @ts-expect-error: limit must be a number',
      'export const mistyped = () => cpp.primesSync("100");',
      'const names = Object.keys(engines);',
      'console.log(JSON.stringify([sync.map((e) => e.primesSync(1000)), names, counts, key.toString("hex")]));',
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
  const names = ['js', 'workers', 'cpp', 'rust', 'cpp-pool', 'rust-pool'];
  t.deepEqual(JSON.parse(stdout), [[168, 168, 168], names, names.map(() => 25), '6f4ad8c78ec365c0']);

  // offloop/server and the offloop command need the peers: without them, an error that names the
  // missing packages and the command that installs them, instead of ERR_MODULE_NOT_FOUND and a stack.
  const install = 'npm install uWebSockets.js@npm:uwebsockets@3.0.6 prom-client pino';
  writeFileSync(
    join(consumer, 'server.mjs'),
    [
      "import('offloop/server').then(",
      "  () => console.log('loaded'),",
      '  (e) => console.log(JSON.stringify({ ...e, name: e.name, message: e.message })),',
      ');',
    ].join('\n'),
  );
  const { stdout: imported } = await exec(process.execPath, ['server.mjs'], { cwd: consumer, env });
  const error = JSON.parse(imported) as { name: string; code: string; message: string; missing: string[] };
  t.like(error, { name: 'MissingPeerError', code: 'ERR_OFFLOOP_MISSING_PEER', missing: serverPeers });
  t.true(error.message.includes(install), error.message);

  const offloop = join(consumer, 'node_modules/.bin/offloop');
  const failed = await t.throwsAsync(exec(offloop, ['--port', '0'], { cwd: consumer, env }));
  const { code, stdout: out, stderr } = failed as Error & { code: number; stdout: string; stderr: string };
  t.is(code, 1);
  t.is(out, '');
  t.true(
    stderr.startsWith("offloop: offloop's server (offloop/server, the offloop command) needs uWebSockets.js"),
    stderr,
  );
  t.true(stderr.includes(install), stderr);
  t.notRegex(stderr, /ERR_MODULE_NOT_FOUND|\n\s+at /, 'no module-resolution error, no stack');
  const worker = await t.throwsAsync(
    exec(offloop, ['worker', '--redis-url', 'redis://127.0.0.1:1'], { cwd: consumer, env }),
  );
  t.is((worker as Error & { code: number }).code, 1);
  t.regex(
    (worker as Error & { stderr: string }).stderr,
    /^offloop: offloop worker needs bullmq and ioredis, which are/,
  );
  // What needs no peer still answers.
  t.is((await exec(offloop, ['--version'], { cwd: consumer, env })).stdout.trim(), manifest.version);
  t.regex((await exec(offloop, ['--help'], { cwd: consumer, env })).stdout, /^Usage: offloop \[options\]/);
});
