import type Database from 'better-sqlite3';
import { sqliteDriver } from './drivers.js';
import { DatabaseError, guarded } from './errors.js';
import type { DbOptions, SyncDb } from './options.js';
import { missingPong, statements } from './sql.js';

const sql = statements.sqlite;

/** Opens the file (creating it), makes the schema and seeds the row unless both are already there. */
function open(path: string, options: DbOptions): Database.Database {
  const db = new (sqliteDriver())(path, { timeout: options.busyTimeoutMs });
  try {
    // A file that already holds the schema is only read, so a read-only copy still serves.
    if (!hasPong(db)) {
      db.transaction(() => {
        db.exec(sql.schema);
        db.prepare(sql.seed).run();
      }).immediate();
    }
    // WAL: readers never wait for a writer (an UPDATE from elsewhere while the routes read). Best
    // effort: a read-only file, or another connection opening the file at this moment
    // (SQLITE_BUSY), leaves the journal mode as it is, and the next connection tries again.
    try {
      db.pragma('journal_mode = WAL');
    } catch {}
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

function hasPong(db: Database.Database): boolean {
  try {
    return db.prepare(sql.getPong).get() !== undefined;
  } catch (error) {
    if (/no such table/.test((error as Error).message)) return false;
    throw error;
  }
}

/**
 * A better-sqlite3 connection, opened on first use on the thread that uses it. A failure closes
 * it, so the next call opens the file afresh — a file that was locked, missing or replaced
 * serves again once it is fine, without a restart.
 */
export function sqliteSync(path: string, options: DbOptions): SyncDb {
  let db: Database.Database | undefined;
  let getPong: Database.Statement<[], { pong: string }> | undefined;
  let sum: Database.Statement<[bigint], { total: bigint | null }> | undefined;
  const use = <T>(work: (db: Database.Database) => T): T =>
    guarded('sqlite', () => {
      try {
        db ??= open(path, options);
        return work(db);
      } catch (error) {
        const code = (error as { code?: string }).code ?? '';
        // Waiting for a lock leaves the connection fine; anything else gets a fresh one.
        if (!code.startsWith('SQLITE_BUSY') && !(error instanceof DatabaseError)) {
          db?.close();
          db = getPong = sum = undefined;
        }
        throw error;
      }
    });
  return {
    getPong: () =>
      use((db) => {
        getPong ??= db.prepare(sql.getPong);
        const row = getPong.get();
        if (row === undefined) throw new DatabaseError(`SQLite: ${missingPong}`);
        return row.pong;
      }),
    sum: (n) =>
      use((db) => {
        sum ??= db.prepare<[bigint], { total: bigint | null }>(sql.sum).safeIntegers(true);
        return sum.get(BigInt(n))?.total ?? 0n;
      }),
    close() {
      db?.close();
      db = getPong = sum = undefined;
    },
  };
}
