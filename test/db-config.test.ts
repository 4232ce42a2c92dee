import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { loadConfig } from '../src/server/config.js';
import { dbOptions, loopDbOptions } from '../src/server/db/options.js';
import { parseDatabaseUrl } from '../src/server/db/target.js';
import { eventually, mainEntry, request, startServer } from './helpers/server.js';

test('DATABASE_URL: unset is offloop.db in the working directory; sqlite:PATH; postgres URLs', (t) => {
  t.is(loadConfig([], {}).databaseUrl, 'sqlite:offloop.db');
  t.like(parseDatabaseUrl('sqlite:offloop.db', 'x', '/srv/app'), { kind: 'sqlite', path: '/srv/app/offloop.db' });
  t.like(parseDatabaseUrl('sqlite:data/x.db', 'x', '/srv'), { kind: 'sqlite', path: '/srv/data/x.db' });
  t.like(parseDatabaseUrl('sqlite:/abs/x.db'), { kind: 'sqlite', path: '/abs/x.db' });
  t.like(parseDatabaseUrl('sqlite:///abs/x.db'), { kind: 'sqlite', path: '/abs/x.db' });
  for (const scheme of ['postgres', 'postgresql']) {
    const target = parseDatabaseUrl(`${scheme}://me:s3cret@db.example:5433/app`);
    t.is(target.kind, 'postgres');
    t.is(target.name, `${scheme}://me:***@db.example:5433/app`);
  }
  t.is(loadConfig(['--database-url', 'sqlite:a.db'], { DATABASE_URL: 'sqlite:b.db' }).databaseUrl, 'sqlite:a.db');
  t.is(loadConfig([], { DATABASE_URL: 'postgres://h/db', OFFLOOP_DB_POOL: '3' }).dbPoolSize, 3);
});

test('a bad DATABASE_URL is refused, naming the option and never the password', (t) => {
  for (const bad of ['mysql://me:s3cret@h/db', 'sqlite:', 'postgres://me:s3cret@h:notaport/db', 'offloop.db']) {
    const error = t.throws(() => loadConfig(['--database-url', bad], {}), { name: 'ConfigError' }, bad);
    t.regex(error!.message, /--database-url/, bad);
    t.false(error!.message.includes('s3cret'), bad);
  }
  t.throws(() => loadConfig(['--db-pool', '0'], {}), { message: /--db-pool/ });
});

test('npm start with a bad DATABASE_URL exits 2 with a clear message', async (t) => {
  const child = spawn(process.execPath, [mainEntry, '--port', '0'], {
    env: { ...process.env, DATABASE_URL: 'redis://x:s3cret@h' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (d: Buffer) => (output += d));
  // 'close': after 'exit', what the child wrote may still be unread.
  const code = await new Promise((resolve) => child.once('close', resolve));
  t.is(code, 2);
  t.regex(output, /--database-url \(DATABASE_URL\) must be sqlite:PATH, postgres:\/\/… or postgresql:\/\/…/);
  t.false(output.includes('s3cret'));
});

test('with DATABASE_URL unset, the server creates offloop.db in its working directory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'offloop-cwd-'));
  const server = await startServer(['--workers', '1'], { DATABASE_URL: undefined }, { cwd: dir });
  try {
    t.true((await stat(join(dir, 'offloop.db'))).isFile());
    await server.printed(/database +SQLite .*offloop\.db/);
    t.deepEqual((await request(`${server.url}/perfect-ping?ms=1`)).json(), { pong: 'pong' });
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test(
  'PostgreSQL unreachable at start: ' + 'the server starts anyway, its database routes answer 503, the rest works',
  async (t) => {
    // A port nobody listens on: connection refused at once.
    const server = await startServer(['--workers', '1'], { DATABASE_URL: 'postgres://me:s3cret@127.0.0.1:1/none' });
    try {
      // stderr may arrive after the banner on stdout: wait for it.
      await eventually(async () => /database is unavailable/.test(server.output()));
      for (const path of [
        '/terrible-ping?ms=1',
        '/good-ping?ms=1',
        '/perfect-ping?ms=1',
        '/query/blocking?n=5',
        '/query/worker?n=5',
        '/query/async?n=5',
      ]) {
        const reply = await request(`${server.url}${path}`);
        t.is(reply.status, 503, path);
        t.like(reply.json(), { database: 'postgres' }, path);
        t.is(reply.headers['retry-after'], '1', path);
        t.false(reply.body.toString().includes('s3cret'), path);
      }
      t.deepEqual((await request(`${server.url}/ping`)).json(), { pong: true });
      t.like((await request(`${server.url}/primes/cpp?limit=100`)).json(), { result: 25 });
      await server.printed(/\n {2}try {2,}curl/); // the banner's last line
      t.false(server.output().includes('s3cret'));
    } finally {
      await server.stop();
    }
  },
);

test('the loop connection never waits past --max-loop-ms: lock, connect and statement waits are capped', (t) => {
  const options = dbOptions(30_000, 4);
  t.deepEqual(loopDbOptions(options, 300), {
    ...options,
    busyTimeoutMs: 300,
    connectTimeoutMs: 300,
    statementTimeoutMs: 300,
  });
  // A cap above every wait changes nothing; the awaited connections keep the request's timeouts.
  t.deepEqual(loopDbOptions(options, 60_000), options);
  t.is(options.statementTimeoutMs, 31_000, "a backstop past the request's own timeout");
});
