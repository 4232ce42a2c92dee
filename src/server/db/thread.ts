/**
 * A thread that owns one database connection and answers requests from the thread that started
 * it (see bridge.ts). With SQLite it runs better-sqlite3's synchronous calls off the caller's
 * thread (what Python's aiosqlite does); with PostgreSQL it awaits pg's non-blocking client, so a
 * caller that must be synchronous can wait for it (what synckit does).
 */
import { type MessagePort, workerData } from 'node:worker_threads';
import type pg from 'pg';
import { pgDriver } from './drivers.js';
import { asDatabaseError, type Outcome, toFailure } from './errors.js';
import type { DbOptions } from './options.js';
import { clientConfig, ensureSchema, queryPong, querySum } from './postgres.js';
import { sqliteSync } from './sqlite.js';
import type { DbTarget } from './target.js';

export interface ThreadData {
  target: DbTarget;
  options: DbOptions;
  port: MessagePort;
  /** Bumped and notified after every reply, for a caller blocked in Atomics.wait. */
  replies: Int32Array;
}

export type Request = { id: number; op: 'pong' } | { id: number; op: 'sum'; n: number };
export type Reply = { id: number } & Outcome<string | bigint>;

interface Connection {
  pong(): Promise<string>;
  sum(n: number): Promise<bigint>;
}

function sqliteConnection(path: string, options: DbOptions): Connection {
  const db = sqliteSync(path, options);
  return { pong: async () => db.getPong(), sum: async (n) => db.sum(n) };
}

/** One pg.Client, opened on first use and again after it failed. */
function postgresConnection(url: string, options: DbOptions): Connection {
  let client: Promise<pg.Client> | undefined;
  const connect = async () => {
    const fresh = new (pgDriver().Client)(clientConfig(url, options));
    fresh.on('error', () => (client = undefined)); // the server went away; the next request reconnects
    try {
      await fresh.connect();
      await ensureSchema(fresh);
      return fresh;
    } catch (error) {
      await fresh.end().catch(() => {});
      throw error;
    }
  };
  const use = async <T>(work: (c: pg.Client) => Promise<T>): Promise<T> => {
    client ??= connect();
    const current = client;
    try {
      return await work(await current);
    } catch (error) {
      // A broken connection, or a server that came back without the table: connect (and make it) again.
      if (!(error instanceof pgDriver().DatabaseError) || /^(57P|08|42P01)/.test(error.code ?? '')) {
        if (client === current) client = undefined;
        void current.then((c) => c.end()).catch(() => {});
      }
      throw error;
    }
  };
  return { pong: () => use(queryPong), sum: (n) => use((c) => querySum(c, n)) };
}

const { target, options, port, replies } = workerData as ThreadData;
const connection =
  target.kind === 'sqlite' ? sqliteConnection(target.path, options) : postgresConnection(target.url, options);

// One request at a time, in order, as a single connection serves them.
let chain = Promise.resolve();
port.on('message', (request: Request) => {
  chain = chain.then(async () => {
    let reply: Reply;
    try {
      const value = request.op === 'pong' ? await connection.pong() : await connection.sum(request.n);
      reply = { id: request.id, ok: true, value };
    } catch (error) {
      reply = { id: request.id, ok: false, error: toFailure(asDatabaseError(target.kind, error)) };
    }
    port.postMessage(reply);
    Atomics.add(replies, 0, 1);
    Atomics.notify(replies, 0);
  });
});
