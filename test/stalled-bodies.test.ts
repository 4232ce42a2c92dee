import net from 'node:net';
import test from 'ava';
import { createServer, type ServerOptions } from '../src/server/app.js';
import { within } from './helpers/outcome.js';
import { stall } from './helpers/raw.js';
import { eventually, request, startServer } from './helpers/server.js';

/** An embedded server on a free loopback port, one worker, logging only warnings. */
const quietServer = (options: ServerOptions) =>
  createServer({ logLevel: 'warn', port: 0, host: '127.0.0.1', workers: 1, ...options });

// Clients whose bodies stop arriving: each is answered (408, or 503 at shutdown) and closed, the
// request ends, memory held is what arrived (not what Content-Length promised), and shutdown
// settles within its timeout. The server runs in this process so its memory can be read.
const gc = globalThis.gc as () => void;
const mib = 2 ** 20;
const blurHead = (mb: number, radius = 8) => {
  const side = Math.sqrt((mb * mib) / 4);
  return (
    `POST /blur/cpp?width=${side}&height=${side}&radius=${radius} HTTP/1.1\r\nHost: x\r\n` +
    `Content-Type: application/octet-stream\r\nContent-Length: ${mb * mib}\r\n\r\n`
  );
};
const arrayBuffers = () => {
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
};

test.serial(
  '300 stalled 4 MiB POSTs: all answered 408 and closed, in-flight back to 0, memory held ≈ the bytes sent',
  async (t) => {
    // The 408s must come only once all 300 have arrived (5 s, not 2: a loaded machine connects them
    // slowly), and before uWS's own idle timeout closes the connections unanswered (8-12 s: its
    // 10 s counted in 4 s ticks).
    const server = await quietServer({ timeout: 5000 });
    try {
      const before = arrayBuffers();
      const clients = await Promise.all(
        Array.from({ length: 300 }, () => stall(server.port, blurHead(4), Buffer.alloc(1024, 1))),
      );
      // Every body's first KiB has reached its request (all before the first timeout, or this fails).
      let answered = 0;
      for (const client of clients) void client.reply.then(() => answered++);
      await eventually(async () => server.bodyBytes === 300 * 1024 || answered > 0, 10);
      t.is(server.bodyBytes, 300 * 1024, 'every first KiB arrived before the first timeout');
      t.is(server.inFlight, 300);
      const held = arrayBuffers() - before;
      t.log(
        `declared ${300 * 4} MiB, sent 300 KiB: ${(held / mib).toFixed(1)} MiB of ArrayBuffers held (was 1200 MiB)`,
      );
      t.true(held < 32 * mib, `${(held / mib).toFixed(1)} MiB held for 300 KiB received`);
      const replies = await Promise.all(clients.map((c) => c.reply));
      t.deepEqual(new Set(replies.map((r) => JSON.stringify(r.statuses))), new Set(['[408]']));
      t.true(replies.every((r) => r.closed));
      t.is(server.inFlight, 0, 'every stalled request ended');
      t.is(server.bodyBytes, 0);
      t.true(arrayBuffers() - before < 8 * mib);
    } finally {
      await server.close();
    }
  },
);

test.serial('a declared 64 MiB body with 1 KiB sent holds about 1 KiB', async (t) => {
  const server = await quietServer({ timeout: 60_000, shutdownTimeout: 100 });
  const before = arrayBuffers();
  const client = await stall(server.port, blurHead(64), Buffer.alloc(1024, 1));
  while (server.bodyBytes < 1024) await new Promise((resolve) => setImmediate(resolve));
  t.is(server.bodyBytes, 1024);
  t.true(arrayBuffers() - before < 4 * mib);
  await server.close();
  t.deepEqual((await client.reply).statuses, [503]);
});

test.serial('close() with stalled bodies settles: each client gets 503 and its connection closes', async (t) => {
  const server = await quietServer({ timeout: 60_000, shutdownTimeout: 300 });
  const clients = await Promise.all(
    Array.from({ length: 50 }, () => stall(server.port, blurHead(4), Buffer.alloc(1024, 1))),
  );
  while (server.bodyBytes < 50 * 1024) await new Promise((resolve) => setImmediate(resolve));
  const started = performance.now();
  // The request timeout is 60 s: settling means the shutdown ended them, as their 503s show.
  await within(30_000, 'close() with 50 stalled bodies', server.close());
  t.log(`close() settled after ${Math.round(performance.now() - started)} ms (shutdown timeout 300 ms)`);
  const replies = await Promise.all(clients.map((c) => c.reply));
  t.true(
    replies.every((r) => r.closed && JSON.stringify(r.statuses) === '[503]'),
    JSON.stringify(replies.map((r) => r.statuses)),
  );
  t.is(server.inFlight, 0);
});

test.serial('SIGTERM with 50 stalled bodies: the process answers them and exits 0', async (t) => {
  const server = await startServer(['--shutdown-timeout', '300', '--timeout', '60000']);
  const clients = await Promise.all(
    Array.from({ length: 50 }, () => stall(server.port, blurHead(4), Buffer.alloc(1024, 1))),
  );
  // The server has all 50 when /metrics says so.
  await eventually(async () =>
    /^offloop_request_body_bytes 51200$/m.test((await request(`${server.url}/metrics`)).body.toString()),
  );
  const started = performance.now();
  t.is(await within(30_000, 'exit after SIGTERM with 50 stalled bodies', server.stop('SIGTERM')), 0);
  t.log(`exited ${Math.round(performance.now() - started)} ms after SIGTERM (shutdown timeout 300 ms)`);
  const replies = await Promise.all(clients.map((c) => c.reply));
  t.true(
    replies.every((r) => r.closed && JSON.stringify(r.statuses) === '[503]'),
    JSON.stringify(replies.map((r) => r.statuses)),
  );
});

test.serial(
  'a client that never reads its answer: past the timeout the server cuts the write, ' +
    'and the request and its body are released',
  async (t) => {
    // radius 0: the answer (a copy) is ready at once, so the timeout finds it being written on any
    // machine; 4 s leaves the 16 MiB body all the time it needs to arrive.
    const timeout = 4000;
    const server = await quietServer({ timeout, shutdownTimeout: 300 });
    t.teardown(() => server.close());
    const body = Buffer.alloc(16 * mib, 7);
    const socket = net.connect(server.port, '127.0.0.1');
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.on('connect', resolve));
    socket.pause(); // reads nothing: 16 MiB of pixels cannot all fit the socket buffers
    socket.write(blurHead(16, 0));
    socket.write(body);
    await eventually(async () => server.bodyBytes === 16 * mib);
    t.is(server.inFlight, 1);
    // uWS's own idle timeout would end it 8-12 s after its last byte moved (10 s in 4 s ticks), so
    // at least 8 s after the body arrived; our timeout, counted from before that, must end it
    // first. The server runs in this process: its timer is due before this wait's bound, so it has
    // fired by the time the bound is checked, however late the loop runs.
    await eventually(async () => server.inFlight === 0 && server.bodyBytes === 0, 20, {
      withinMs: 7_000,
      message: `the request or its body was still held 7 s after the body arrived (timeout ${timeout} ms)`,
    });
    socket.resume(); // now it reads: what it gets ends short of the whole answer, then the close
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    await within(60_000, 'the cut connection closing once the client reads', closed);
    const received = Buffer.concat(chunks);
    // The answer was being written (a 200), not refused by the timeout before it (a 504).
    t.regex(received.subarray(0, 16).toString('latin1'), /^HTTP\/1\.1 200 /);
    t.true(received.length < 16 * mib, `the client got ${received.length} bytes: the answer was cut, not finished`);
  },
);
