import test from 'ava';
import { eventually, type RunningServer, request, sample, startServer } from './helpers/server.js';

// Honest cancellation: builtin pbkdf2 runs in OpenSSL on libuv's pool and cannot be stopped. The
// 504 says so, its slot stays taken until the work really ends, and shutdown still answers.
const json = { 'content-type': 'application/json' };
// About 2 s of OpenSSL here: long enough to be still running at every check below.
const longPbkdf2 = JSON.stringify({ password: 'pw', salt: 'salt', iterations: 3_000_000, keylen: 32 });
const metric = async (server: RunningServer, name: string, labels: Record<string, string>) =>
  sample((await request(`${server.url}/metrics`)).body.toString(), name, labels);

test(
  "uncancellable work keeps its slot of libuv's pool until it really ends; " +
    'past the timeout it is refused up front (422)',
  async (t) => {
    const server = await startServer(['--max-inflight', '1', '--max-queue', '1']);
    try {
      const controller = new AbortController();
      const gone = request(`${server.url}/pbkdf2/builtin`, {
        method: 'POST',
        body: longPbkdf2,
        headers: json,
        signal: controller.signal,
      }).catch((e: Error) => e.name);
      await eventually(async () => (await metric(server, 'offloop_inflight_requests', { strategy: 'builtin' })) === 1);
      controller.abort();
      t.is(await gone, 'AbortError');
      t.is(
        await metric(server, 'offloop_pool_admitted_requests', { pool: 'libuv' }),
        1,
        'OpenSSL still runs: its thread, and so its slot, is still taken',
      );
      await eventually(
        async () => (await metric(server, 'offloop_pool_admitted_requests', { pool: 'libuv' })) === 0,
        100,
        {
          withinMs: 100_000,
          message: 'the slot was never released after the work ended',
        },
      );
      // The request ends (once) when its work does.
      t.is(
        await metric(server, 'offloop_http_requests_total', {
          route: '/pbkdf2/:strategy',
          strategy: 'builtin',
          status: 'aborted',
        }),
        1,
      );
      // Work that would outlast the timeout (30 s) and could not be stopped is not started at all.
      const tooLong = await request(`${server.url}/pbkdf2/builtin`, {
        method: 'POST',
        body: JSON.stringify({ password: 'p', salt: 's', iterations: 100_000_000, keylen: 1024 }),
        headers: json,
      });
      t.is(tooLong.status, 422);
      t.like(tooLong.json(), { field: 'iterations', timeoutMs: 30_000 });
    } finally {
      await server.stop();
    }
  },
);

test('a 504 for cancellable work says cancelled: true', async (t) => {
  const server = await startServer(['--timeout', '300']);
  try {
    const reply = await request(`${server.url}/sleep/cpp?ms=60000`);
    t.is(reply.status, 504);
    t.like(reply.json(), { cancelled: true });
  } finally {
    await server.stop();
  }
});

test(
  'SIGTERM during uncancellable work: ' + 'the client gets 503 (cancelled: false) within the shutdown timeout',
  async (t) => {
    const server = await startServer(['--shutdown-timeout', '200']);
    const pending = request(`${server.url}/pbkdf2/builtin`, { method: 'POST', body: longPbkdf2, headers: json });
    await eventually(async () => (await metric(server, 'offloop_inflight_requests', { strategy: 'builtin' })) === 1);
    const started = performance.now();
    const order: string[] = [];
    server.child.kill('SIGTERM');
    const exited = server.exited.then((code) => {
      order.push('exited');
      return code;
    });
    const reply = await pending;
    order.push('answered');
    const answeredMs = performance.now() - started;
    t.is(reply.status, 503);
    t.like(reply.json(), { cancelled: false });
    t.is(await exited, 0);
    // The client is answered before the process goes (exit itself waits for OpenSSL: libuv joins its threads).
    t.deepEqual(order, ['answered', 'exited']);
    t.log(
      `answered ${Math.round(answeredMs)} ms, exited ${Math.round(performance.now() - started)} ms after SIGTERM ` +
        '(shutdown timeout 200 ms)',
    );
  },
);
