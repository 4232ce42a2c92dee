/**
 * /good-ping's body, run on a worker thread: the same two blocking calls as /terrible-ping —
 * a blocking sleep, then a blocking read of the "DB" — but off the event loop, as FastAPI runs
 * a sync route on its threadpool.
 */
import { readFileSync } from 'node:fs';
import { sleep } from '../kernels/sleep.js';

export default function goodPing({ ms, file }: { ms: number; file: string }): string {
  sleep(ms);
  return readFileSync(file, 'utf8').trim();
}
