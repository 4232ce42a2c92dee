import { createRequire } from 'node:module';
import type BetterSqlite3 from 'better-sqlite3';
import type Pg from 'pg';
import { DatabaseError } from './errors.js';

/**
 * The database drivers are optional peer dependencies: loaded on first use, so a server without
 * one still serves everything else, and the routes that need it answer 503 saying how to install it.
 */
const require = createRequire(import.meta.url);

function load<T>(name: string, database: string, note: string): T {
  try {
    return require(name) as T;
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new DatabaseError(
      `${database} needs the ${name} package, which cannot be loaded (${reason}); npm install ${name}${note}`,
    );
  }
}

export const sqliteDriver = (): typeof BetterSqlite3 =>
  load(
    'better-sqlite3',
    'SQLite',
    ' (it builds from source with python3, make and a C++ compiler where no prebuilt binary can be fetched),' +
      ' or use PostgreSQL: DATABASE_URL=postgres://…',
  );

export const pgDriver = (): typeof Pg => load('pg', 'PostgreSQL', '');
