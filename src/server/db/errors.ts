import type { DbKind } from './target.js';

/** A failure to reach or use the database; the seed routes answer it 503. */
export class DatabaseError extends Error {
  override readonly name = 'DatabaseError';
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** A DatabaseError as plain data, to cross a thread (structured clone drops an Error's own fields). */
export interface DbFailure {
  message: string;
  code?: string;
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: DbFailure };

export const toFailure = (error: unknown): DbFailure => {
  const { message, code } = describe(error);
  return code === undefined ? { message } : { message, code };
};

export const fromFailure = (failure: DbFailure): DatabaseError => new DatabaseError(failure.message, failure.code);

const sqliteHints: Record<string, string> = {
  SQLITE_BUSY: 'the file is locked by another connection',
  SQLITE_LOCKED: 'the table is locked',
  SQLITE_READONLY: 'the file or its directory is read-only',
  SQLITE_CANTOPEN: 'the file cannot be opened (missing directory or no permission)',
  SQLITE_NOTADB: 'the file is not a SQLite database',
  SQLITE_CORRUPT: 'the file is corrupt',
};

/** A driver's error as one clear sentence and its code. */
function describe(error: unknown): { message: string; code?: string } {
  if (error instanceof DatabaseError) return { message: error.message, ...(error.code ? { code: error.code } : {}) };
  const { message = String(error), code } = (error ?? {}) as { message?: string; code?: unknown };
  const known = typeof code === 'string' ? code : undefined;
  // SQLite's extended codes (SQLITE_BUSY_SNAPSHOT) share their primary code's hint.
  const hint = known ? sqliteHints[known.split('_').slice(0, 2).join('_')] : undefined;
  return { message: hint ? `${hint}: ${message}` : message, ...(known ? { code: known } : {}) };
}

/** Runs `work`, turning any driver error into a DatabaseError. */
export function guarded<T>(kind: DbKind, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw asDatabaseError(kind, error);
  }
}

export function asDatabaseError(kind: DbKind, error: unknown): DatabaseError {
  if (error instanceof DatabaseError) return error;
  const { message, code } = describe(error);
  return new DatabaseError(`${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: ${message}`, code);
}
