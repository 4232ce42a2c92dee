import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { packagePath } from '../src/package-root.js';
import { installCommand, MissingPeerError, missingPeers, peersOf } from '../src/server/peers.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const { version, bin } = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
};

test("the package's bin is this command", (t) => {
  t.is(packagePath(bin.offloop!), packagePath('dist/src/cli.js'));
  t.is(cli, packagePath('dist/src/cli.js'));
});

test('offloop --version prints the package version, alone', async (t) => {
  t.regex(version, /^\d+\.\d+\.\d+/);
  for (const flag of ['--version', '-v']) {
    const { stdout, stderr } = await run(process.execPath, [cli, flag]);
    t.is(stdout, `${version}\n`, flag);
    t.is(stderr, '');
  }
});

test("offloop --help shows the command's usage and every option, not `npm start --`", async (t) => {
  const { stdout } = await run(process.execPath, [cli, '--help']);
  t.regex(stdout, /^Usage: offloop \[options\]/);
  t.regex(stdout, /^ +offloop worker \[options\]/m);
  t.regex(stdout, /^ +offloop --version/m);
  t.notRegex(stdout.split('\n')[0]!, /npm start/);
  for (const flag of ['--port', '--processes', '--redis-url', 'UV_THREADPOOL_SIZE'])
    t.true(stdout.includes(flag), flag);
});

test("offloop worker --help is the worker's usage", async (t) => {
  const { stdout } = await run(process.execPath, [cli, 'worker', '--help']);
  t.regex(stdout, /^Usage: offloop worker \[options\]/);
  t.true(stdout.includes('--redis-url'));
});

test('a bad option to offloop exits 2 naming it, as before', async (t) => {
  const error = await t.throwsAsync(run(process.execPath, [cli, '--port', 'eighty']));
  const { code, stderr } = error as Error & { code: number; stderr: string };
  t.is(code, 2);
  t.regex(stderr, /--port must be an integer/);
});

test('missing peers are found by resolving them, in order; other resolution errors are not hidden', (t) => {
  const installed = new Set(['prom-client', 'ioredis']);
  const resolve = (name: string) => {
    if (!installed.has(name))
      throw Object.assign(new Error(`Cannot find module '${name}'`), { code: 'MODULE_NOT_FOUND' });
  };
  t.deepEqual(missingPeers(peersOf.server.packages, resolve), ['uWebSockets.js', 'pino']);
  t.deepEqual(missingPeers(peersOf.queue.packages, resolve), ['bullmq']);
  t.deepEqual(missingPeers(peersOf.server.packages), [], 'all are installed here, as devDependencies');
  const broken = () => {
    throw Object.assign(new Error('bad exports'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
  };
  t.throws(() => missingPeers(['pino'], broken), { message: 'bad exports' });
});

test('the missing-peer error names the packages and the command that installs them', (t) => {
  const error = new MissingPeerError('server', ['uWebSockets.js', 'pino']);
  t.is(error.code, 'ERR_OFFLOOP_MISSING_PEER');
  t.is(
    error.message,
    "offloop's server (offloop/server, the offloop command) needs uWebSockets.js and pino, which are not installed " +
      "(optional peer dependencies: `import 'offloop'`, the library, needs none of them). " +
      'Install with: npm install uWebSockets.js@npm:uwebsockets@3.0.6 pino',
  );
  t.regex(new MissingPeerError('worker', ['bullmq']).message, /^offloop worker needs bullmq, which is not installed/);
  t.is(
    installCommand(['uWebSockets.js', 'prom-client', 'pino']),
    'npm install uWebSockets.js@npm:uwebsockets@3.0.6 prom-client pino',
  );
});
