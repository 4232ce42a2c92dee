import test from 'ava';
import { type RunningServer, request, startServer } from './helpers/server.js';

// Without REDIS_URL the queue strategy is listed, off, with the reason; its requests get 503.
let server: RunningServer;
test.before(async () => {
  server = await startServer([], { REDIS_URL: '' });
});
test.after.always(async () => {
  await server?.stop();
});

test('/strategies lists queue as off, saying why', async (t) => {
  const table = (await request(`${server.url}/strategies`)).json<{ name: string }[]>();
  t.like(
    table.find((s) => s.name === 'queue'),
    { enabled: false, reason: 'set REDIS_URL or --redis-url (and start `offloop worker`)' },
  );
  t.true(table.filter((s) => s.name !== 'queue').every((s) => (s as { enabled?: boolean }).enabled === true));
});

test('a request to the queue strategy while it is off: 503 JSON with the reason', async (t) => {
  for (const path of ['/primes/queue?limit=10', '/sleep/queue?ms=1']) {
    const reply = await request(`${server.url}${path}`);
    t.is(reply.status, 503);
    t.like(reply.json(), { strategy: 'queue', reason: 'set REDIS_URL or --redis-url (and start `offloop worker`)' });
  }
});
