import test from 'ava';
import pg from 'pg';
import { type PostgresCluster, postgresBin, postgresMissing, startPostgres } from './helpers/postgres.js';
import { seedSuite } from './helpers/seed-suite.js';
import { eventually, type RunningServer, request, startServer } from './helpers/server.js';

// A throwaway PostgreSQL cluster on loopback, started and removed by this file.
const available = postgresBin() !== undefined;
let cluster: PostgresCluster;
let server: RunningServer;

async function sql<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: cluster.url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

if (!available) {
  test('postgres: skipped', (t) => {
    t.log(postgresMissing);
    t.pass();
  });
} else {
  test.before(async () => {
    cluster = await startPostgres();
    server = await startServer(['--workers', '2'], { DATABASE_URL: cluster.url });
  });
  test.after.always(async () => {
    await server?.stop();
    await cluster?.destroy();
  });

  seedSuite(test, {
    kind: 'postgres',
    server: () => server,
    setPong: async (value) => void (await sql('UPDATE pongs SET pong = $1 WHERE id = 1', [value])),
    queryStrategies: ['blocking', 'worker', 'async'],
  });

  test.serial('postgres: the table exists with the seed row', async (t) => {
    const columns = await sql<{ column_name: string; data_type: string }>(
      'SELECT column_name, data_type FROM information_schema.columns ' +
        "WHERE table_name = 'pongs' ORDER BY ordinal_position",
    );
    t.deepEqual(columns, [
      { column_name: 'id', data_type: 'integer' },
      { column_name: 'pong', data_type: 'text' },
    ]);
    t.is((await sql('SELECT * FROM pongs')).length, 1);
  });

  test.serial('postgres: the database goes away and comes back: 503 meanwhile, 200 after, no restart', async (t) => {
    const routes = [
      '/terrible-ping?ms=1',
      '/good-ping?ms=1',
      '/perfect-ping?ms=1',
      '/query/blocking?n=10',
      '/query/worker?n=10',
      '/query/async?n=10',
    ];
    for (const path of routes) t.is((await request(`${server.url}${path}`)).status, 200, path);
    await cluster.stop();
    for (const path of routes) {
      const reply = await request(`${server.url}${path}`);
      t.is(reply.status, 503, path);
      t.like(reply.json(), { database: 'postgres' }, path);
      t.regex(reply.json<{ error: string }>().error, /^the database is unavailable: PostgreSQL: /, path);
    }
    t.deepEqual((await request(`${server.url}/ping`)).json(), { pong: true });
    t.like((await request(`${server.url}/primes/rust?limit=1000`)).json(), { result: 168 });
    await cluster.start();
    for (const path of routes) {
      const reply = await request(`${server.url}${path}`);
      t.is(reply.status, 200, `${path}: ${reply.body}`);
    }
    t.deepEqual((await request(`${server.url}/perfect-ping?ms=1`)).json(), { pong: 'pong' });
  });

  test.serial(
    'postgres: /query/async past the timeout answers 504 and cancels the statement on the server',
    async (t) => {
      const own = await startServer(['--workers', '1', '--timeout', '300'], { DATABASE_URL: cluster.url });
      try {
        const reply = await request(`${own.url}/query/async?n=10000000`);
        t.is(reply.status, 504);
        t.like(reply.json(), { cancelled: true });
        // The server no longer runs it (the cancel travels on a connection of its own).
        await eventually(
          async () =>
            (await sql("SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'WITH RECURSIVE%'"))
              .length === 0,
        );
        t.pass();
      } finally {
        await own.stop();
      }
    },
  );

  test.serial('postgres: servers starting together on an empty database make one table and one seed row', async (t) => {
    await sql('CREATE DATABASE race');
    const url = cluster.url.replace(/\/postgres$/, '/race');
    const servers = await Promise.all([1, 2, 3].map(() => startServer(['--workers', '1'], { DATABASE_URL: url })));
    try {
      for (const server of servers) {
        await server.printed(/\n {2}try {2,}curl/); // the banner's last line: what came before it is here
        t.false(/database is unavailable/.test(server.output()));
        t.deepEqual((await request(`${server.url}/perfect-ping?ms=1`)).json(), { pong: 'pong' });
      }
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      t.deepEqual((await client.query('SELECT id, pong FROM pongs')).rows, [{ id: 1, pong: 'pong' }]);
      await client.end();
    } finally {
      await Promise.all(servers.map((s) => s.stop()));
    }
  });
}
