/** How a call ended, for tests that compare outcomes (the error, whatever it is, as data). */
export type Outcome = { value: unknown } | { error: unknown };
export const settle = async (run: () => unknown): Promise<Outcome> => {
  try {
    return { value: await run() };
  } catch (error) {
    return { error };
  }
};
/** offloop's AbortError (errors.ts), or any other abort (a DOMException, say): by name, as Node's docs advise. */
export const isAbortError = (e: unknown) =>
  (e instanceof Error || e instanceof DOMException) && e.name === 'AbortError';
export const errorClass = (e: unknown) =>
  e instanceof RangeError
    ? 'RangeError'
    : e instanceof TypeError
      ? 'TypeError'
      : isAbortError(e)
        ? 'AbortError'
        : `other: ${String(e)}`;

/**
 * `promise`'s value, or a failure saying `what` after a generous `ms`: for things that must happen
 * at all (a close that settles, a process that exits), so a hang fails with a message rather than
 * at the suite's timeout. Not a speed claim.
 */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
