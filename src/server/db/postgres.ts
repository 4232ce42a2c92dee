import type pg from 'pg';
import { abortError } from '../../errors.js';
import { pgDriver } from './drivers.js';
import { asDatabaseError, DatabaseError } from './errors.js';
import type { DbOptions } from './options.js';
import { missingPong, statements } from './sql.js';

const sql = statements.postgres;

/** One connection's settings: every wait bounded, so a lost server is an error, not a hang. */
export function clientConfig(url: string, options: DbOptions): pg.ClientConfig {
  return {
    connectionString: url,
    connectionTimeoutMillis: options.connectTimeoutMs,
    statement_timeout: options.statementTimeoutMs,
    // The server-side limit ends a statement; this one ends a wait on a server that stopped answering.
    query_timeout: options.statementTimeoutMs + options.connectTimeoutMs,
    keepAlive: true,
    application_name: 'offloop',
  };
}

/** Creates the table and the seed row if missing, under an advisory lock (see `statements`). */
export async function ensureSchema(client: pg.ClientBase): Promise<void> {
  const { rowCount } = await client.query(sql.getPong).catch((error: { code?: string }) => {
    if (error.code === '42P01') return { rowCount: 0 }; // undefined_table
    throw error;
  });
  if (rowCount) return;
  await client.query('BEGIN');
  try {
    await client.query(sql.lock);
    await client.query(sql.schema);
    await client.query(sql.seed);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

export async function queryPong(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query<{ pong: string }>(sql.getPong);
  if (rows.length === 0) throw new DatabaseError(`PostgreSQL: ${missingPong}`);
  return rows[0]!.pong;
}

export async function querySum(client: pg.ClientBase, n: number): Promise<bigint> {
  const { rows } = await client.query<{ total: string | null }>(sql.sum, [n]);
  return BigInt(rows[0]?.total ?? 0);
}

/** Asks the server to cancel what connection `pid` is running, over a connection of its own. */
export async function cancelBackend(url: string, options: DbOptions, pid: number): Promise<void> {
  const client = new (pgDriver().Client)({ ...clientConfig(url, options), statement_timeout: 0 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT pg_cancel_backend($1)', [pid]);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Awaited queries on a pg.Pool: non-blocking socket I/O, the loop free while the server works. */
export class PostgresPool {
  #pool: pg.Pool | undefined;
  #schema: Promise<void> | undefined;

  constructor(
    readonly url: string,
    readonly options: DbOptions,
  ) {}

  /** The pool, made on first use (the driver is loaded then). */
  #connect(): Promise<pg.PoolClient> {
    if (!this.#pool) {
      const { Pool } = pgDriver();
      this.#pool = new Pool({
        ...clientConfig(this.url, this.options),
        max: this.options.poolSize,
        idleTimeoutMillis: 10_000,
      });
      // An idle connection whose server went away reports here; unheard, it would crash the process.
      // The pool has already dropped it, and the next query opens a fresh one.
      this.#pool.on('error', () => {});
    }
    return this.#pool.connect();
  }

  /** Runs `work` on a pooled connection; `signal` cancels the statement on the server. */
  async run<T>(work: (client: pg.PoolClient) => Promise<T>, signal?: AbortSignal): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.#connect();
    } catch (error) {
      throw asDatabaseError('postgres', error);
    }
    // The client may have left while this waited for a connection: its abort has fired already.
    if (signal?.aborted) {
      client.release();
      throw abortError();
    }
    let broken: unknown;
    const pid = (client as unknown as { processID?: number }).processID;
    const onAbort = () => {
      if (pid !== undefined) void cancelBackend(this.url, this.options, pid).catch(() => {});
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      this.#schema ??= ensureSchema(client).catch((error: unknown) => {
        this.#schema = undefined;
        throw error;
      });
      await this.#schema;
      return await work(client);
    } catch (error) {
      // A connection that failed (not a statement that did) must not go back to the pool.
      if (!(error instanceof pgDriver().DatabaseError) || /^(57P|08)/.test(error.code ?? '')) broken = error;
      // A server that came back without the table (a fresh cluster) gets it made again.
      if ((error as { code?: string }).code === '42P01') this.#schema = undefined;
      throw asDatabaseError('postgres', error);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  close(): Promise<void> {
    return this.#pool?.end() ?? Promise.resolve();
  }
}
