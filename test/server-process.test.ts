import { spawnSync } from 'node:child_process';
import { pbkdf2Sync } from 'node:crypto';
import test from 'ava';
import { stall } from './helpers/raw.js';
import { eventually, mainEntry, type RunningServer, request, sample, startServer } from './helpers/server.js';

/** What a fresh connection gets now: a status, or the connection's error code (ECONNREFUSED …). */
const fresh = (url: string) =>
  request(url).then(
    (r) => r.status,
    (e: NodeJS.ErrnoException) => e.code,
  );

/** Resolves once /metrics shows each [name, labels, value], e.g. ['offloop_ready', { pid }, 0]. */
async function metricsShow(
  server: RunningServer,
  want: [name: string, labels: Record<string, string>, value: number][],
) {
  await eventually(async () => {
    const text = (await request(`${server.url}/metrics`)).body.toString();
    return want.every(([name, labels, value]) => sample(text, name, labels) === value);
  });
}

test('SIGTERM during a request: it completes, new connections are refused, exit 0', async (t) => {
  // The request stays in flight as long as its body is unfinished: the test, not a timer, decides
  // when it ends. The shutdown timeout is generous so that only the drain's rule is tested.
  const server = await startServer(['--shutdown-timeout', '60000']);
  const json = JSON.stringify({ password: 'pw', salt: 'salt', iterations: 1000, keylen: 32 });
  const half = json.length >> 1;
  const head =
    `POST /pbkdf2/cpp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${json.length}\r\n\r\n`;
  const client = await stall(server.port, head, json.slice(0, half));
  await metricsShow(server, [['offloop_request_body_bytes', {}, half]]); // the server holds the request
  server.child.kill('SIGTERM');
  await server.printed(/SIGTERM: finishing 1 in-flight request/);
  // Draining: the listening socket is closed (a connection racing the close may see 503 or a reset first).
  await eventually(async () => (await fresh(`${server.url}/ping`)) === 'ECONNREFUSED');
  client.socket.write(json.slice(half));
  const reply = await client.reply;
  t.deepEqual(reply.statuses, [200], reply.text);
  const { result } = JSON.parse(reply.responses[0]!.body) as { result: string };
  t.is(result, pbkdf2Sync('pw', 'salt', 1000, 32, 'sha256').toString('hex'));
  t.is(await server.exited, 0);
});

test('SIGTERM during a burst: every accepted request completes, none is lost, exit 0', async (t) => {
  const server = await startServer(['--max-inflight', '4', '--max-queue', '16', '--shutdown-timeout', '60000']);
  const answered: (number | string)[] = [];
  const send = (ms: number) =>
    fresh(`${server.url}/sleep/rust?ms=${ms}`).then((status) => {
      answered.push(status ?? 'no code');
      return status;
    });
  // Four long sleeps fill the pool's threads; the 26 short ones after them fill its queue (16)
  // and are refused past it (10): the counts hold only while the four still run, which the
  // server's own "finishing 20" below establishes rather than assumes.
  const running = Array.from({ length: 4 }, () => send(5000));
  await metricsShow(server, [['offloop_inflight_requests', { strategy: 'rust' }, 4]]);
  const rest = Array.from({ length: 26 }, () => send(50));
  await eventually(async () => answered.length === 10);
  await metricsShow(server, [
    ['offloop_inflight_requests', { strategy: 'rust' }, 4],
    ['offloop_queued_requests', { strategy: 'rust' }, 16],
  ]);
  t.deepEqual(answered, Array(10).fill(503), 'the ten past the queue, refused before the signal');
  server.child.kill('SIGTERM');
  await server.printed(/SIGTERM: finishing 20 in-flight request/);
  const statuses = await Promise.all([...running, ...rest]);
  // Accepted: 4 running + 16 queued, all completed; the other 10 were refused (503) before the
  // signal; no connection was dropped.
  t.is(statuses.filter((s) => s === 200).length, 20);
  t.is(statuses.filter((s) => s === 503).length, 10);
  t.is(await server.exited, 0);
  t.is(await fresh(`${server.url}/ping`), 'ECONNREFUSED');
});

test('a second signal exits at once', async (t) => {
  // A generous shutdown timeout: only the second signal can end the drain early.
  const server = await startServer(['--shutdown-timeout', '60000']);
  // Far longer than the test: only the second signal can end it.
  const pending = request(`${server.url}/sleep/cpp?ms=60000`).then(
    (r) => r.status,
    () => 'cut',
  );
  await metricsShow(server, [['offloop_inflight_requests', { strategy: 'cpp' }, 1]]);
  server.child.kill('SIGTERM');
  await server.printed(/SIGTERM: finishing 1 in-flight request/); // the first signal was handled
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
