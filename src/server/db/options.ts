/** How long the database layer may wait, derived from the server's configuration; posted to threads. */
export interface DbOptions {
  /** SQLite's busy_timeout: how long a statement waits for another connection's lock. */
  busyTimeoutMs: number;
  /** PostgreSQL: how long opening a connection may take. */
  connectTimeoutMs: number;
  /** PostgreSQL's statement_timeout, and how long a synchronous caller waits for an answer. */
  statementTimeoutMs: number;
  /** PostgreSQL: connections in the pool the awaited queries use. */
  poolSize: number;
}

/**
 * Lock and connect waits stay inside the request timeout, so a database that is gone is a 503,
 * not a 504. The statement timeout is a backstop a second past the request's: the route's own
 * timer must answer first (504, and it cancels the statement), or the two race.
 */
export function dbOptions(timeoutMs: number, poolSize: number): DbOptions {
  const short = Math.max(1, Math.min(5000, Math.floor(timeoutMs / 2)));
  return { busyTimeoutMs: short, connectTimeoutMs: short, statementTimeoutMs: timeoutMs + 1000, poolSize };
}

/**
 * The loop connection's waits: a lock, a slow server or a long statement holds the event loop
 * for as long as the driver waits, so no wait may pass the loop's own cap (`--max-loop-ms`).
 */
export function loopDbOptions(options: DbOptions, maxLoopMs: number): DbOptions {
  const cap = (ms: number) => Math.max(1, Math.min(ms, maxLoopMs));
  return {
    ...options,
    busyTimeoutMs: cap(options.busyTimeoutMs),
    connectTimeoutMs: cap(options.connectTimeoutMs),
    statementTimeoutMs: cap(options.statementTimeoutMs),
  };
}

/** Something that answers the seed's two questions synchronously, on the thread that calls it. */
export interface SyncDb {
  getPong(): string;
  /** 1 + 2 + … + n, computed by the database. */
  sum(n: number): bigint;
  close(): void;
}
