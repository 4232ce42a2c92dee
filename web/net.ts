// Asking the server for the page's set-up, patiently: it may not be up yet.

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const RETRY_MS = 1000;

/** GET `path` as JSON, once a second until the server answers 2xx. */
export async function getJsonWhenUp<T>(path: string): Promise<T> {
  for (;;) {
    try {
      const res = await fetch(path, { cache: 'no-store' });
      if (res.ok) return (await res.json()) as T;
    } catch {
      // not up yet
    }
    await sleep(RETRY_MS);
  }
}
