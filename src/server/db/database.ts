import { bridgedSync, DbThread } from './bridge.js';
import { type DbOptions, loopDbOptions, type SyncDb } from './options.js';
import { PostgresPool, queryPong, querySum } from './postgres.js';
import { sqliteSync } from './sqlite.js';
import type { DbTarget } from './target.js';

/** A synchronous connection for the calling thread: better-sqlite3 itself, or pg behind the bridge. */
export function openSync(target: DbTarget, options: DbOptions): SyncDb {
  return target.kind === 'sqlite' ? sqliteSync(target.path, options) : bridgedSync(target, options);
}

/** Awaited queries: pg's non-blocking client on a pool, or SQLite on a thread of its own. */
export interface AsyncDb {
  getPong(signal?: AbortSignal): Promise<string>;
  /** PostgreSQL only: the statement runs in the database server's process; `signal` cancels it there. */
  sum?(n: number, signal?: AbortSignal): Promise<bigint>;
  close(): Promise<void>;
}

function openAsync(target: DbTarget, options: DbOptions): AsyncDb {
  if (target.kind === 'postgres') {
    const pool = new PostgresPool(target.url, options);
    return {
      getPong: (signal) => pool.run(queryPong, signal),
      sum: (n, signal) => pool.run((client) => querySum(client, n), signal),
      close: () => pool.close(),
    };
  }
  // SQLite has no non-blocking API: the honest async path is a thread of its own.
  let thread: DbThread | undefined;
  return {
    getPong: () => {
      thread = thread && !thread.exited ? thread : new DbThread(target, options);
      return thread.call({ op: 'pong' }) as Promise<string>;
    },
    async close() {
      await thread?.close();
      thread = undefined;
    },
  };
}

/** The server's database: where it is, and its connections. Workers open their own from `target`. */
export class ServerDatabase {
  /** Synchronous, on the event loop: /terrible-ping, /query/blocking. */
  readonly loop: SyncDb;
  /** Awaited: /perfect-ping, /query/async. */
  readonly async: AsyncDb;

  constructor(
    readonly target: DbTarget,
    readonly options: DbOptions,
    /** The loop connection's waits are capped here (`--max-loop-ms`): see loopDbOptions. */
    maxLoopMs = Number.POSITIVE_INFINITY,
  ) {
    this.loop = openSync(target, loopDbOptions(options, maxLoopMs));
    this.async = openAsync(target, options);
  }

  /** For /health, the banner and the page: never a password. */
  describe(): { kind: DbTarget['kind']; name: string } {
    return { kind: this.target.kind, name: this.target.name };
  }

  /**
   * Opens a connection now, making the schema and the seed row. A failure is returned, not
   * thrown: the server starts anyway and the database routes answer 503 until it is reachable.
   */
  async check(): Promise<Error | undefined> {
    try {
      await this.async.getPong();
      return undefined;
    } catch (error) {
      return error as Error;
    }
  }

  async close(): Promise<void> {
    this.loop.close();
    await this.async.close();
  }
}
