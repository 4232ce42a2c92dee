/** How a call ended, for tests that compare outcomes: ava's throwsAsync wants an Error, and a DOMException is none. */
export type Outcome = { value: unknown } | { error: unknown };
export const settle = async (run: () => unknown): Promise<Outcome> => {
  try {
    return { value: await run() };
  } catch (error) {
    return { error };
  }
};
export const isAbortError = (e: unknown) => e instanceof DOMException && e.name === 'AbortError';
export const errorClass = (e: unknown) =>
  e instanceof RangeError
    ? 'RangeError'
    : e instanceof TypeError
      ? 'TypeError'
      : isAbortError(e)
        ? 'AbortError'
        : `other: ${String(e)}`;
