/**
 * /good-ping's body, run on a worker thread: the same two blocking calls as /terrible-ping —
 * a blocking sleep, then a blocking read of the "DB" — but off the event loop, as FastAPI runs
 * a sync route on its threadpool.
 */
import { readFileSync } from 'node:fs';
import type { CancelFlag } from '../kernels/cancel.js';
import { sleep } from '../kernels/sleep.js';

// `cancel` (runFile's context) stops the sleep when the request is aborted: no worker is terminated.
export default function goodPing({ ms, file }: { ms: number; file: string }, cancel?: CancelFlag): string {
  sleep(ms, cancel);
  return readFileSync(file, 'utf8').trim();
}
