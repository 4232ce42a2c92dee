import { parse } from '../engines/kernels.js';
import type { KernelArgs, KernelName } from '../engines/types.js';
import { type Exchange, HttpError } from './http.js';

/** Reading a request's arguments: query integers, a JSON object body, the library's checks as 400s. */

/** Whether `text` is 1 to 15 decimal digits: the common case, passed without the regular expression. */
function digitsOnly(text: string): boolean {
  if (text.length > 15) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}

/** An integer from the query string; the library's own checks then apply its bounds. */
export function queryInt(ex: Exchange, name: string, fallback?: number): number {
  const raw = ex.queryParam(name);
  if (raw === null || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new HttpError(400, `the "${name}" query parameter is required`, { field: name });
  }
  // Plain or scientific decimal notation (limit=1e7); the library then insists on an integer.
  if (!digitsOnly(raw) && (raw.length > 32 || !/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw))) {
    throw new HttpError(
      400,
      `the "${name}" query parameter must be an integer; got ${JSON.stringify(raw.slice(0, 40))}`,
      { field: name },
    );
  }
  return Number(raw);
}

/** The body as a JSON object, or a 400 naming `body`. */
export async function jsonBody(ex: Exchange): Promise<Record<string, unknown>> {
  const text = (await ex.body!).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `the body is not valid JSON: ${(error as Error).message}`, { field: 'body' });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'the body must be a JSON object', { field: 'body' });
  }
  return value as Record<string, unknown>;
}

/** The library's argument checks, answered as 400s that name the field. */
export function checkArgs<K extends KernelName>(kernel: K, raw: unknown[]): KernelArgs[K] {
  try {
    return (parse[kernel] as (...a: unknown[]) => KernelArgs[K])(...raw);
  } catch (error) {
    const argument = (error as { argument?: string }).argument;
    if (argument === undefined) throw error;
    throw new HttpError(400, (error as Error).message, { field: argument });
  }
}
