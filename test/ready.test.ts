import http from 'node:http';
import test from 'ava';
import { eventually, request, startServer } from './helpers/server.js';

/** GET over one kept-alive connection: a server that stopped accepting still answers on it. */
function keptAlive(base: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string) =>
    new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      http
        .get(`${base}${path}`, { agent }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as Record<string, unknown> }));
        })
        .on('error', reject);
    });
  return { get, close: () => agent.destroy() };
}

test('/ready answers 200 when the server takes work, with /health beside it', async (t) => {
  const server = await startServer();
  t.teardown(() => server.stop());
  const ready = await request(`${server.url}/ready`);
  t.is(ready.status, 200);
  t.deepEqual(ready.json(), { ready: true, pid: server.pids[0] });
  t.is((await request(`${server.url}/health`)).status, 200);
});

test('/ready flips to 503 during drain (SIGTERM with a request in flight) while /health still answers', async (t) => {
  const server = await startServer();
  const conn = keptAlive(server.url);
  t.teardown(() => {
    conn.close();
    return server.stop('SIGKILL');
  });
  t.is((await conn.get('/ready')).status, 200); // the connection is open before the listen socket closes
  // In flight: a long sleep off the loop, which keeps the server draining until it ends or its client leaves.
  const inFlight = new AbortController();
  const sleeping = request(`${server.url}/sleep/cpp?ms=60000`, { signal: inFlight.signal }).catch(() => 'aborted');
  await eventually(async () => ((await conn.get('/stats.json')).body.inflight as Record<string, number>).cpp === 1);
  server.child.kill('SIGTERM');
  await eventually(async () => (await conn.get('/ready')).status === 503);
  const ready = await conn.get('/ready');
  t.is(ready.status, 503);
  t.like(ready.body, { ready: false, reason: 'draining' });
  const health = await conn.get('/health');
  t.is(health.status, 200, 'liveness: the process is alive while it drains');
  t.is(health.body.status, 'ok');
  // The in-flight request's client leaves: nothing is left to drain, and the server exits cleanly.
  inFlight.abort();
  t.is(await sleeping, 'aborted');
  t.is(await server.exited, 0);
});
