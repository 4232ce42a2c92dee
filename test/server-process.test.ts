import { spawnSync } from 'node:child_process';
import test from 'ava';
import { mainEntry, request, sample, startServer } from './helpers/server.js';

test('SIGTERM during a request: it completes, new connections are refused, exit 0', async (t) => {
  const server = await startServer();
  const inFlight = request(`${server.url}/sleep/cpp?ms=800`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  server.child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 100));
  const late = await request(`${server.url}/ping`).then(
    (r) => r.status,
    (e: NodeJS.ErrnoException) => e.code,
  );
  t.true(late === 'ECONNREFUSED' || late === 503, String(late));
  const reply = await inFlight;
  t.is(reply.status, 200);
  t.is(await server.exited, 0);
});

test('SIGTERM during a burst: every accepted request completes, none is lost, exit 0', async (t) => {
  const server = await startServer(['--max-inflight', '4', '--max-queue', '16']);
  const burst = Array.from({ length: 30 }, () =>
    request(`${server.url}/sleep/rust?ms=300`).then(
      (r) => r.status,
      (e: NodeJS.ErrnoException) => e.code,
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 150));
  server.child.kill('SIGTERM');
  const statuses = await Promise.all(burst);
  // Accepted: 4 running + 16 queued, all completed; the other 10 were refused (503) before the
  // signal; no connection was dropped.
  t.is(statuses.filter((s) => s === 200).length, 20);
  t.is(statuses.filter((s) => s === 503).length, 10);
  const late = await request(`${server.url}/ping`).then(
    (r) => r.status,
    (e: NodeJS.ErrnoException) => e.code,
  );
  t.is(late, 'ECONNREFUSED');
  t.is(await server.exited, 0);
});

test('a second signal exits at once', async (t) => {
  const server = await startServer();
  const pending = request(`${server.url}/sleep/cpp?ms=5000`).then(
    (r) => r.status,
    () => 'cut',
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  server.child.kill('SIGTERM');
  await new Promise((resolve) => setTimeout(resolve, 100));
  server.child.kill('SIGTERM');
  t.is(await server.exited, 1);
  // Even then the client hears why: 503, its work cancelled.
  t.is(await pending, 503);
});

test('--threadpool applies to libuv even when set after Node started', async (t) => {
  const server = await startServer(['--threadpool', '2'], { UV_THREADPOOL_SIZE: undefined });
  const metrics = (await request(`${server.url}/metrics`)).body.toString();
  t.is(sample(metrics, 'offloop_pool_threads', { pool: 'libuv' }), 2);
  await server.printed(/libuv pool\s+2 threads/); // the supervisor's banner says so too
  t.is(await server.stop(), 0);
});

test('--processes 2 runs two server processes on one port', async (t) => {
  const server = await startServer(['--processes', '2']);
  t.is(server.pids.length, 2);
  await server.printed(new RegExp(`processes\\s+2 \\(pid ${server.pids.join(', ')}\\)`));
  const pids = new Set<number>();
  for (let i = 0; i < 40 && pids.size < 2; i++)
    pids.add((await request(`${server.url}/health`)).json<{ pid: number }>().pid);
  t.deepEqual([...pids].sort(), [...server.pids].sort());
  t.false(pids.has(server.child.pid!), 'the supervisor itself serves nothing');
  t.is(await server.stop(), 0);
});

test('--help lists every option; a bad option exits 2 with a message', (t) => {
  const help = spawnSync(process.execPath, [mainEntry, '--help'], { encoding: 'utf8' });
  t.is(help.status, 0);
  for (const flag of [
    '--port',
    '--host',
    '--threadpool',
    '--workers',
    '--body-limit',
    '--max-body-memory',
    '--max-loop-ms',
    '--max-loop-share',
    '--max-inflight',
    '--max-queue',
    '--timeout',
    '--processes',
    'UV_THREADPOOL_SIZE',
  ]) {
    t.true(help.stdout.includes(flag), flag);
  }
  const bad = spawnSync(process.execPath, [mainEntry, '--port', 'eighty'], { encoding: 'utf8' });
  t.is(bad.status, 2);
  t.regex(bad.stderr, /--port must be an integer/);
  const unknown = spawnSync(process.execPath, [mainEntry, '--turbo'], { encoding: 'utf8' });
  t.is(unknown.status, 2);
  t.regex(unknown.stderr, /turbo/);
  // A worker heap too small to load the worker's modules is refused, not a crash at start.
  const tinyHeap = spawnSync(process.execPath, [mainEntry, '--worker-heap-mb', '4'], { encoding: 'utf8' });
  t.is(tinyHeap.status, 2);
  t.regex(tinyHeap.stderr, /--worker-heap-mb must be 0 \(V8's default\) or at least 32; got 4/);
});

test('createServer embeds: it returns the bound port and a close()', async (t) => {
  const { createServer } = await import('../src/server/app.js');
  const server = await createServer({ logLevel: 'warn', port: 0, host: '127.0.0.1', workers: 1 });
  t.true(server.port > 0);
  t.like((await request(`http://127.0.0.1:${server.port}/primes/rust?limit=100`)).json(), { result: 25 });
  await server.close();
  const after = await request(`http://127.0.0.1:${server.port}/ping`).then(
    (r) => r.status,
    (e: NodeJS.ErrnoException) => e.code,
  );
  t.is(after, 'ECONNREFUSED');
  await t.throwsAsync(createServer({ port: -1 }), { message: /options.port/ });
});

test.serial(
  'createServer runs cpp-pool and rust-pool on the pools it is handed, leaving them as they were',
  async (t) => {
    const { createServer } = await import('../src/server/app.js');
    const { cppPool, rustPool } = await import('../src/engines/index.js');
    for (const pool of [cppPool, rustPool]) {
      pool.configure({ threads: 1, nice: 4, policy: 'normal' });
      await pool.noop();
    }
    const mine = { threads: 1, nice: 4, policy: 'normal' };
    const server = await createServer({
      logLevel: 'warn',
      port: 0,
      host: '127.0.0.1',
      workers: 1,
      poolThreads: 3,
      poolNice: 12,
      cppPool,
      rustPool,
    });
    for (const pool of [cppPool, rustPool]) t.like(pool.stats(), mine, `${pool.name}: not reconfigured`);
    const url = `http://127.0.0.1:${server.port}`;
    t.like((await request(`${url}/primes/cpp-pool?limit=100`)).json(), { result: 25 });
    t.like((await request(`${url}/primes/rust-pool?limit=100`)).json(), { result: 25 });
    // Its gates and metrics count the threads the pools really have.
    t.regex((await request(`${url}/metrics`)).body.toString(), /offloop_pool_threads\{pool="cpp-pool"\} 1\n/);
    await server.close();
    for (const pool of [cppPool, rustPool]) t.like(pool.stats(), mine, `${pool.name}: left open`);
    t.is(await cppPool.primes(100), 25);
    // Not handed them, the server configures the process's pools as asked, and closes them.
    const owner = await createServer({
      logLevel: 'warn',
      port: 0,
      host: '127.0.0.1',
      workers: 1,
      poolThreads: 2,
      poolNice: 12,
    });
    for (const pool of [cppPool, rustPool]) t.like(pool.stats(), { threads: 2, nice: 12 }, pool.name);
    await owner.close();
    for (const pool of [cppPool, rustPool]) t.is(pool.stats().threads, 0, `${pool.name}: closed with its server`);
  },
);

test('loopback by default; another address is explicit and the banner warns', async (t) => {
  const { loadConfig } = await import('../src/server/config.js');
  t.is(loadConfig([], {}).host, '127.0.0.1');
  t.is(loadConfig([], { HOST: '0.0.0.0' }).host, '0.0.0.0');
  t.is(loadConfig(['--max-loop-share', '0.25'], {}).maxLoopShare, 0.25);
  t.throws(() => loadConfig(['--max-loop-share', '2'], {}), {
    message: /--max-loop-share must be a number from 0.01 to 1/,
  });
  const open = await startServer(['--host', '0.0.0.0']);
  await open.printed(/WARNING\s+listening on 0\.0\.0\.0, not loopback/);
  t.is(await open.stop(), 0, open.output());
  const local = await startServer();
  await local.printed(/\n {2}try {2,}curl/); // the banner's last line
  t.notRegex(local.output(), /WARNING/);
  t.is(await local.stop(), 0, local.output().slice(-600));
});
