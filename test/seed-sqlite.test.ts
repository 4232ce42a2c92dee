import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import Database from 'better-sqlite3';
import { within } from './helpers/outcome.js';
import { seedSuite } from './helpers/seed-suite.js';
import { eventually, type RunningServer, request, startServer } from './helpers/server.js';

const run = promisify(execFile);

// The embedded default: a SQLite file (here in a temp dir, so the test writes nothing tracked).
let dir: string;
let file: string;
let server: RunningServer;
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'offloop-sqlite-'));
  file = join(dir, 'seed.db');
  server = await startServer(['--workers', '2'], { DATABASE_URL: `sqlite:${file}` });
});
test.after.always(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

seedSuite(test, {
  kind: 'sqlite',
  server: () => server,
  async setPong(value) {
    const db = new Database(file, { timeout: 5000 });
    db.prepare('UPDATE pongs SET pong = ? WHERE id = 1').run(value);
    db.close();
  },
  queryStrategies: ['blocking', 'worker'],
});

test('sqlite: the file is created with the schema and the seed row', (t) => {
  const db = new Database(file, { readonly: true });
  t.deepEqual(db.prepare('SELECT id, pong FROM pongs').all().length, 1);
  t.regex(
    String(db.prepare("SELECT sql FROM sqlite_master WHERE name = 'pongs'").pluck().get()),
    /id INTEGER PRIMARY KEY, pong TEXT NOT NULL/,
  );
  db.close();
});

test('sqlite: /query/async says it needs PostgreSQL', async (t) => {
  const reply = await request(`${server.url}/query/async?n=10`);
  t.is(reply.status, 503);
  t.like(reply.json(), { field: 'strategy', database: 'sqlite' });
  t.regex(reply.json<{ error: string }>().error, /PostgreSQL/);
});

test('sqlite: a row deleted by someone is a clear 503, and a restored one serves again', async (t) => {
  const alone = await mkdtemp(join(tmpdir(), 'offloop-sqlite-'));
  const path = join(alone, 'gone.db');
  const own = await startServer(['--workers', '1'], { DATABASE_URL: `sqlite:${path}` });
  try {
    // Every connection is open (a connection opening later would seed the row again).
    for (const route of ['/terrible-ping', '/good-ping', '/perfect-ping'])
      t.is((await request(`${own.url}${route}?ms=1`)).status, 200);
    const db = new Database(path, { timeout: 5000 });
    db.prepare('DELETE FROM pongs').run();
    for (const route of ['/terrible-ping', '/good-ping', '/perfect-ping']) {
      const reply = await request(`${own.url}${route}?ms=1`);
      t.is(reply.status, 503, route);
      t.regex(reply.json<{ error: string }>().error, /no row with id = 1/, route);
    }
    db.prepare("INSERT INTO pongs VALUES (1, 'back')").run();
    db.close();
    for (const route of ['/terrible-ping', '/good-ping', '/perfect-ping']) {
      t.deepEqual((await request(`${own.url}${route}?ms=1`)).json(), { pong: 'back' }, route);
    }
  } finally {
    await own.stop();
    await rm(alone, { recursive: true, force: true });
  }
});

test(
  'sqlite: a file locked by another process: ' +
    'the server starts, answers 503 naming the lock, then recovers; nothing is corrupted',
  async (t) => {
    const alone = await mkdtemp(join(tmpdir(), 'offloop-sqlite-'));
    const path = join(alone, 'locked.db');
    // A rollback-journal database under an EXCLUSIVE lock: nobody else may even read it.
    const holder = new Database(path);
    holder.exec(
      "CREATE TABLE pongs (id INTEGER PRIMARY KEY, pong TEXT NOT NULL); INSERT INTO pongs VALUES (1, 'pong')",
    );
    holder.exec('BEGIN EXCLUSIVE');
    holder.prepare("UPDATE pongs SET pong = 'held' WHERE id = 1").run();
    const own = await startServer(['--workers', '1', '--timeout', '4000'], { DATABASE_URL: `sqlite:${path}` });
    try {
      // stderr may arrive after the banner on stdout: wait for it.
      await eventually(async () => /database is unavailable.*locked/.test(own.output()));
      for (const route of ['/terrible-ping', '/good-ping', '/perfect-ping']) {
        const reply = await request(`${own.url}${route}?ms=1`);
        t.is(reply.status, 503, route);
        t.like(reply.json(), { database: 'sqlite' }, route);
        t.regex(reply.json<{ code: string }>().code, /^SQLITE_BUSY/, route);
        t.regex(reply.json<{ error: string }>().error, /locked/, route);
      }
      t.deepEqual((await request(`${own.url}/ping`)).json(), { pong: true });
      holder.exec('COMMIT');
      holder.close();
      for (const route of ['/terrible-ping', '/good-ping', '/perfect-ping']) {
        t.deepEqual((await request(`${own.url}${route}?ms=1`)).json(), { pong: 'held' }, route);
      }
      const check = new Database(path, { readonly: true });
      t.is(check.pragma('integrity_check', { simple: true }), 'ok');
      check.close();
    } finally {
      await own.stop();
      await rm(alone, { recursive: true, force: true });
    }
  },
);

test(
  'sqlite: /query/worker that could outlast the timeout is refused up front (422 naming n): ' +
    'SQLite cannot be stopped',
  async (t) => {
    // The refusal is computed up front from n and the timeout, so no query runs on this server;
    // what the rule admits runs on the suite's server, whose timeout (30 s) no machine's speed meets.
    const own = await startServer(['--workers', '1', '--timeout', '200'], { DATABASE_URL: `sqlite:${file}` });
    let maxN: number;
    try {
      const reply = await request(`${own.url}/query/worker?n=10000000`);
      t.is(reply.status, 422);
      t.like(reply.json(), { field: 'n' });
      maxN = reply.json<{ maxN: number }>().maxN;
      t.true(maxN > 0 && maxN < 10_000_000);
      t.regex(reply.json<{ error: string }>().error, /cannot be stopped/);
      // The bound is exact: one past it is refused the same way.
      const past = await request(`${own.url}/query/worker?n=${maxN + 1}`);
      t.is(past.status, 422);
      t.like(past.json(), { field: 'n', maxN });
      t.deepEqual((await request(`${own.url}/ping`)).json(), { pong: true });
    } finally {
      await own.stop();
    }
    // Within the bound it runs and sums exactly.
    const n = Math.floor(maxN / 10);
    const admitted = await request(`${server.url}/query/worker?n=${n}`);
    t.is(admitted.status, 200, admitted.body.toString());
    t.is(admitted.json<{ result: string }>().result, ((BigInt(n) * BigInt(n + 1)) / 2n).toString());
  },
);

/** Makes a file read-only even for root (chattr +i), or for anyone else (chmod); returns the undo. */
async function readOnly(path: string): Promise<() => Promise<void>> {
  if (userInfo().uid !== 0) {
    await chmod(path, 0o444);
    return () => chmod(path, 0o644);
  }
  await run('chattr', ['+i', path]);
  return async () => void (await run('chattr', ['-i', path]));
}

test('sqlite: a read-only file serves what it holds; one without the table is a 503 saying read-only', async (t) => {
  const alone = await mkdtemp(join(tmpdir(), 'offloop-sqlite-'));
  const full = join(alone, 'full.db');
  const empty = join(alone, 'empty.db');
  const seeded = new Database(full); // rollback journal: no -wal file beside it
  seeded.exec(
    "CREATE TABLE pongs (id INTEGER PRIMARY KEY, pong TEXT NOT NULL); INSERT INTO pongs VALUES (1, 'frozen')",
  );
  seeded.close();
  await writeFile(empty, '');
  const undo: Array<() => Promise<void>> = [];
  try {
    undo.push(await readOnly(full), await readOnly(empty));
  } catch (error) {
    await rm(alone, { recursive: true, force: true });
    return t.pass(`cannot make a file read-only here (${(error as Error).message}); skipped`);
  }
  try {
    const reading = await startServer(['--workers', '1'], { DATABASE_URL: `sqlite:${full}` });
    try {
      for (const route of ['/terrible-ping', '/good-ping', '/perfect-ping']) {
        t.deepEqual((await request(`${reading.url}${route}?ms=1`)).json(), { pong: 'frozen' }, route);
      }
    } finally {
      await reading.stop();
    }
    const failing = await startServer(['--workers', '1'], { DATABASE_URL: `sqlite:${empty}` });
    try {
      // stderr may arrive after the banner on stdout: wait for it.
      await eventually(async () => /database is unavailable.*read-only/.test(failing.output()));
      for (const route of ['/terrible-ping', '/good-ping', '/perfect-ping']) {
        const reply = await request(`${failing.url}${route}?ms=1`);
        t.is(reply.status, 503, route);
        t.regex(reply.json<{ code: string }>().code, /^SQLITE_READONLY/, route);
        t.regex(reply.json<{ error: string }>().error, /read-only/, route);
      }
    } finally {
      await failing.stop();
    }
    const check = new Database(full, { readonly: true });
    t.is(check.pragma('integrity_check', { simple: true }), 'ok');
    check.close();
  } finally {
    for (const step of undo) await step();
    await rm(alone, { recursive: true, force: true });
  }
});

test('sqlite: servers starting together on a new file make one table and one seed row', async (t) => {
  const alone = await mkdtemp(join(tmpdir(), 'offloop-sqlite-'));
  const path = join(alone, 'race.db');
  const servers = await Promise.all(
    [1, 2, 3].map(() => startServer(['--workers', '1'], { DATABASE_URL: `sqlite:${path}` })),
  );
  try {
    for (const server of servers) {
      await server.printed(/\n {2}try {2,}curl/); // the banner's last line: what came before it is here
      t.false(/database is unavailable/.test(server.output()));
      t.deepEqual((await request(`${server.url}/perfect-ping?ms=1`)).json(), { pong: 'pong' });
    }
    const db = new Database(path, { readonly: true });
    t.deepEqual(db.prepare('SELECT id, pong FROM pongs').all(), [{ id: 1, pong: 'pong' }]);
    db.close();
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
    await rm(alone, { recursive: true, force: true });
  }
});

test(
  'sqlite: SIGTERM during /query/worker statements: ' +
    'each client gets 503 saying they were not cancelled, before the process goes',
  async (t) => {
    const own = await startServer(['--workers', '2', '--shutdown-timeout', '300'], { DATABASE_URL: `sqlite:${file}` });
    const order: string[] = [];
    const replies = [1, 2].map(() =>
      request(`${own.url}/query/worker?n=10000000`).then((reply) => {
        order.push('answered');
        return reply;
      }),
    );
    // Both statements are running once both workers are busy.
    await eventually(async () =>
      /offloop_inflight_requests\{strategy="worker"\} 2/.test((await request(`${own.url}/metrics`)).body.toString()),
    );
    const exited = within(60_000, 'exit after SIGTERM during SQLite statements', own.stop('SIGTERM')).then((code) => {
      order.push('exited');
      return code;
    });
    for (const reply of await Promise.all(replies)) {
      t.is(reply.status, 503);
      t.like(reply.json(), { cancelled: false });
    }
    t.is(await exited, 0);
    // SQLite cannot be interrupted: exit waits for the statements (worker threads are joined), the answers did not.
    t.deepEqual(order, ['answered', 'answered', 'exited']);
  },
);
