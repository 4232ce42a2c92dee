import { isAbsolute, resolve } from 'node:path';

/**
 * Which database the seed routes use, from DATABASE_URL / --database-url: everything a thread
 * needs to open its own connection (it is posted to workers, so it stays plain data).
 */
export type DbTarget =
  | { readonly kind: 'sqlite'; readonly path: string; readonly name: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly name: string };

export type DbKind = DbTarget['kind'];

/** The embedded default: a SQLite file in the working directory, created on first start. */
export const defaultDatabaseUrl = 'sqlite:offloop.db';

export class DatabaseUrlError extends Error {
  override readonly name = 'DatabaseUrlError';
}

/** A URL fit to print: the password, if any, replaced. */
export function redact(url: URL): string {
  const copy = new URL(url.href);
  if (copy.password !== '') copy.password = '***';
  return copy.href;
}

/** Parses DATABASE_URL; `source` names where it came from in the error. */
export function parseDatabaseUrl(raw: string, source = '--database-url', cwd = process.cwd()): DbTarget {
  if (raw.startsWith('sqlite:')) {
    // sqlite:PATH — relative to the working directory; `sqlite:///abs/path` is accepted too.
    const rest = raw.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (rest === '' || rest.includes('\0'))
      throw new DatabaseUrlError(`${source} must name a file after "sqlite:"; got ${JSON.stringify(raw)}`);
    const path = isAbsolute(rest) ? rest : resolve(cwd, rest);
    return { kind: 'sqlite', path, name: path };
  }
  if (/^postgres(ql)?:\/\//.test(raw)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new DatabaseUrlError(`${source} is not a valid postgres:// URL`); // no echo: it may hold a password
    }
    return { kind: 'postgres', url: raw, name: redact(url) };
  }
  const shown = raw.replace(/\/\/[^@/]*@/, '//***@').slice(0, 80);
  throw new DatabaseUrlError(
    `${source} must be sqlite:PATH, postgres://… or postgresql://…; got ${JSON.stringify(shown)}`,
  );
}
