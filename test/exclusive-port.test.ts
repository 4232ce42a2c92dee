import test from 'ava';
import { request, startServer } from './helpers/server.js';

test('a second server on a port in use fails with "could not listen", and the first keeps serving', async (t) => {
  const first = await startServer();
  t.teardown(() => first.stop());
  const error = await t.throwsAsync(startServer(['--port', String(first.port)]));
  t.regex(error!.message, new RegExp(`could not listen on 127\\.0\\.0\\.1:${first.port} \\(in use`));
  t.regex(error!.message, /server exited \(1\) before listening/);
  for (let i = 0; i < 5; i++) {
    const health = await request(`${first.url}/health`);
    t.is(health.json<{ pid: number }>().pid, first.pids[0]!, 'every request still reaches the first server');
  }
  t.is(await first.stop(), 0);
});

test('--processes 2 shares its port on purpose, and still excludes a server of its own', async (t) => {
  const shared = await startServer(['--processes', '2']);
  t.teardown(() => shared.stop());
  t.is(shared.pids.length, 2);
  // Its processes listen with SO_REUSEPORT; a single server after them asks for the port alone.
  const error = await t.throwsAsync(startServer(['--port', String(shared.port)]));
  t.regex(error!.message, /could not listen on/);
  t.is((await request(`${shared.url}/ping`)).status, 200);
  t.is(await shared.stop(), 0);
});
