/**
 * Every statement the seed routes run, once per dialect. The seed row is inserted with
 * ON CONFLICT DO NOTHING, so two servers starting at once cannot both insert it.
 */
export const statements = {
  sqlite: {
    schema: 'CREATE TABLE IF NOT EXISTS pongs (id INTEGER PRIMARY KEY, pong TEXT NOT NULL)',
    seed: "INSERT INTO pongs (id, pong) VALUES (1, 'pong') ON CONFLICT (id) DO NOTHING",
    getPong: 'SELECT pong FROM pongs WHERE id = 1',
    /** One CPU-heavy statement: 1 + 2 + … + n, one row per step of a recursive CTE. */
    sum: 'WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?) SELECT sum(i) AS total FROM c',
  },
  postgres: {
    schema: 'CREATE TABLE IF NOT EXISTS pongs (id INTEGER PRIMARY KEY, pong TEXT NOT NULL)',
    seed: "INSERT INTO pongs (id, pong) VALUES (1, 'pong') ON CONFLICT (id) DO NOTHING",
    getPong: 'SELECT pong FROM pongs WHERE id = 1',
    sum:
      'WITH RECURSIVE c(i) AS (SELECT 1::bigint UNION ALL SELECT i + 1 FROM c WHERE i < $1) ' +
      'SELECT sum(i)::text AS total FROM c',
    /**
     * Concurrent CREATE TABLE IF NOT EXISTS can still collide in PostgreSQL's catalog, so the
     * schema is made under a transaction-scoped advisory lock (the key is arbitrary but fixed).
     */
    lock: 'SELECT pg_advisory_xact_lock(7026557)',
  },
} as const;

/** The answer to get_pong when someone deleted the row. */
export const missingPong = 'the pongs table has no row with id = 1';
